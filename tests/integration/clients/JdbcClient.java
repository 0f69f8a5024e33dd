// pgjdbc through pggat (run by cli_clients_test.cpp in source-file mode:
//   java -cp /usr/share/java/postgresql.jar JdbcClient.java URL TABLE THREADS ITERATIONS
//
// THREADS connections, each with server-prepared statements from the first
// use (the URL sets prepareThreshold=1), its own application_name and
// search_path, run ITERATIONS rounds of: prepared selects checked against
// their parameters, the session settings read back, a batch insert committed
// in a transaction, a rolled-back insert, and a server-side cursor read in
// fetchSize steps (a portal with a row limit across several Executes). In
// transaction mode the rounds land on whichever server is free, so every
// prepared statement and setting has to follow its connection. Prints
// "label: value" lines and "jdbc OK"; any mismatch or exception exits 1.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

public class JdbcClient {
  static void check(String label, Object got, Object want) {
    if (!got.equals(want)) {
      throw new IllegalStateException("MISMATCH " + label + ": got " + got + ", want " + want);
    }
  }

  static String quoted(String name) {
    return "\"" + name.replace("\"", "\"\"") + "\"";
  }

  static void worker(String url, String table, int id, int iterations) throws SQLException {
    try (Connection conn = DriverManager.getConnection(url, "app", "")) {
      try (Statement st = conn.createStatement()) {
        st.execute("SET application_name = 'jdbc-" + id + "'");
        st.execute("SET search_path = jdbc_" + id + ", public");
      }
      PreparedStatement twice = conn.prepareStatement("select ?::int * 2");
      PreparedStatement settings = conn.prepareStatement(
          "select current_setting('application_name'), current_setting('search_path')");
      PreparedStatement insert =
          conn.prepareStatement("insert into " + quoted(table) + " (worker, n) values (?, ?)");
      PreparedStatement series = conn.prepareStatement("select g from generate_series(1, ?) g");
      for (int i = 0; i < iterations; i++) {
        twice.setInt(1, i);
        try (ResultSet rs = twice.executeQuery()) {
          rs.next();
          check("twice", rs.getInt(1), 2 * i);
        }
        try (ResultSet rs = settings.executeQuery()) {
          rs.next();
          check("application_name", rs.getString(1), "jdbc-" + id);
          check("search_path", rs.getString(2), "jdbc_" + id + ", public");
        }

        conn.setAutoCommit(false);
        for (int k = 0; k < 3; k++) {
          insert.setInt(1, id);
          insert.setInt(2, i * 3 + k);
          insert.addBatch();
        }
        int[] counts = insert.executeBatch();
        check("batch size", counts.length, 3);
        conn.commit();

        insert.setInt(1, id);
        insert.setInt(2, -1);
        check("rolled-back insert", insert.executeUpdate(), 1);
        conn.rollback();

        // A fetch size needs a transaction: pgjdbc then reads through a
        // portal, 4 rows per Execute.
        series.setFetchSize(4);
        series.setInt(1, 10);
        int sum = 0;
        int rows = 0;
        try (ResultSet rs = series.executeQuery()) {
          while (rs.next()) {
            sum += rs.getInt(1);
            rows++;
          }
        }
        conn.commit();
        conn.setAutoCommit(true);
        check("cursor rows", rows, 10);
        check("cursor sum", sum, 55);
      }
      try (PreparedStatement mine =
               conn.prepareStatement("select count(*), min(n), max(n) from " + quoted(table)
                                     + " where worker = ?")) {
        mine.setInt(1, id);
        try (ResultSet rs = mine.executeQuery()) {
          rs.next();
          check("own rows", rs.getInt(1), iterations * 3);
          check("own min", rs.getInt(2), 0);
          check("own max", rs.getInt(3), iterations * 3 - 1);
        }
      }
    }
  }

  public static void main(String[] args) throws Exception {
    String url = args[0];
    String table = args[1];
    int threads = Integer.parseInt(args[2]);
    int iterations = Integer.parseInt(args[3]);

    try (Connection conn = DriverManager.getConnection(url, "app", "");
         Statement st = conn.createStatement()) {
      try (ResultSet rs = st.executeQuery("select current_user, current_database()")) {
        rs.next();
        check("user", rs.getString(1) + "/" + rs.getString(2), "app/app");
        System.out.println("user: " + rs.getString(1) + "/" + rs.getString(2));
      }
      st.execute("drop table if exists " + quoted(table));
      st.execute("create table " + quoted(table) + " (worker int not null, n int not null)");
    }

    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      final int id = t;
      Thread worker = new Thread(() -> {
        try {
          worker(url, table, id, iterations);
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      });
      workers.add(worker);
      worker.start();
    }
    for (Thread worker : workers) {
      worker.join();
    }
    if (failure.get() != null) {
      System.err.println("worker failed: " + failure.get());
      failure.get().printStackTrace();
      System.exit(1);
    }
    System.out.println("workers: " + threads + " x " + iterations + " rounds");

    try (Connection conn = DriverManager.getConnection(url, "app", "");
         Statement st = conn.createStatement();
         ResultSet rs = st.executeQuery("select count(*) from " + quoted(table))) {
      rs.next();
      System.out.println("rows: " + rs.getInt(1));
    }
    System.out.println("jdbc OK");
  }
}
