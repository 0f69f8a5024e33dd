// node-postgres through pggat (run by cli_clients_test.cpp):
//   node node_client.js HOST PORT TABLE CLIENTS ITERATIONS
//
// CLIENTS connections, each with its own application_name and search_path,
// run ITERATIONS rounds of named queries (node-postgres prepares a name once
// per connection and then only binds it), a committed transaction of named
// inserts, a rolled-back one, and a named query whose Parse fails (the
// statement must not count as prepared afterwards). In transaction mode the
// rounds land on whichever server is free, so every statement and setting has
// to follow its connection. Prints "label: value" lines and "node-postgres
// OK"; any mismatch or error exits 1.
'use strict';
const { Client } = require('pg');

function check(label, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`MISMATCH ${label}: got ${g}, want ${w}`);
}

function quoted(name) {
  return '"' + name.replace(/"/g, '""') + '"';
}

async function connect(host, port) {
  const client = new Client({ host, port, user: 'app', database: 'app', password: '',
                              connectionTimeoutMillis: 10000 });
  await client.connect();
  return client;
}

async function worker(host, port, table, id, iterations) {
  const client = await connect(host, port);
  try {
    await client.query(`SET application_name = 'node-${id}'`);
    await client.query(`SET search_path = node_${id}, public`);
    for (let i = 0; i < iterations; i++) {
      const twice = await client.query({ name: 'twice', text: 'select $1::int * 2 as v',
                                         values: [i] });
      check('twice', twice.rows, [{ v: 2 * i }]);
      const settings = await client.query({
        name: 'settings', rowMode: 'array',
        text: "select current_setting('application_name'), current_setting('search_path')" });
      check('settings', settings.rows[0], [`node-${id}`, `node_${id}, public`]);

      await client.query('BEGIN');
      for (let k = 0; k < 3; k++) {
        const r = await client.query({ name: 'insert',
                                       text: `insert into ${quoted(table)} values ($1, $2)`,
                                       values: [id, i * 3 + k] });
        check('insert', r.rowCount, 1);
      }
      await client.query('COMMIT');

      await client.query('BEGIN');
      await client.query({ name: 'insert', text: `insert into ${quoted(table)} values ($1, $2)`,
                           values: [id, -1] });
      await client.query('ROLLBACK');

      let error = null;
      try {
        await client.query({ name: `broken_${i}`, text: 'select from nowhere_at_all' });
      } catch (e) {
        error = e.code;
      }
      check('broken parse', error, '42P01');
    }
    const mine = await client.query({
      name: 'mine', rowMode: 'array',
      text: `select count(*)::int, min(n), max(n) from ${quoted(table)} where worker = $1`,
      values: [id] });
    check('own rows', mine.rows[0], [iterations * 3, 0, iterations * 3 - 1]);
  } finally {
    await client.end();
  }
}

async function main() {
  const [host, portText, table, clientsText, iterationsText] = process.argv.slice(2);
  const port = Number(portText);
  const clients = Number(clientsText);
  const iterations = Number(iterationsText);

  const setup = await connect(host, port);
  const who = await setup.query('select current_user as u, current_database() as d');
  check('user', who.rows[0], { u: 'app', d: 'app' });
  console.log('user: app/app');
  await setup.query(`drop table if exists ${quoted(table)}`);
  await setup.query(`create table ${quoted(table)} (worker int not null, n int not null)`);
  await setup.end();

  const workers = [];
  for (let id = 0; id < clients; id++) workers.push(worker(host, port, table, id, iterations));
  await Promise.all(workers);
  console.log(`workers: ${clients} x ${iterations} rounds`);

  const last = await connect(host, port);
  const rows = await last.query(`select count(*)::int as n from ${quoted(table)}`);
  console.log(`rows: ${rows.rows[0].n}`);
  await last.end();
  console.log('node-postgres OK');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
