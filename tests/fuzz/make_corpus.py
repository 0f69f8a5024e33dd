#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets to tests/fuzz/corpus/<target>/.

Small real messages: what libpq, PostgreSQL and pggat send. Run it again after
changing it; the files are committed. The SCRAM seeds are complete, valid
exchanges for the fixed password, salt and nonces of fuzz_scram.cpp.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(t, body=b""):
    return t.encode() + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def startup(params, version=196608):
    body = struct.pack("!I", version) + b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSS_REQUEST = struct.pack("!II", 8, 80877104)
CANCEL = struct.pack("!IIii", 16, 80877102, 4242, -123456)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def startup_corpus():
    app = startup([("user", "app"), ("database", "app"), ("application_name", "psql")])
    write("fuzz-startup", "startup_message", app)
    write("fuzz-startup", "ssl_then_startup", SSL_REQUEST + app)
    write("fuzz-startup", "ssl_request", SSL_REQUEST)
    write("fuzz-startup", "gss_then_ssl_then_startup", GSS_REQUEST + SSL_REQUEST + app)
    write("fuzz-startup", "cancel_request", CANCEL)
    write("fuzz-startup", "options",
          startup([("user", "app"), ("options", "-c search_path=a\\ b --work-mem=4MB")]))
    write("fuzz-startup", "protocol_3_1",
          startup([("user", "app"), ("_pq_.compression", "on")], version=(3 << 16) | 1))
    write("fuzz-startup", "replication", startup([("user", "app"), ("replication", "database")]))
    write("fuzz-startup", "protocol_2", startup([("user", "app")], version=2 << 16))


def codec_corpus():
    # Selector byte (fuzz_codec.cpp rules_for): bit 0 backend, bits 1-2 the state.
    fe_ready, be_ready, fe_auth, be_startup = b"\x00", b"\x01", b"\x02", b"\x03"
    write("fuzz-codec", "fe_simple_query", fe_ready + msg("Q", cstr("select 1")) + msg("X"))
    bind = (cstr("") + cstr("s1") + struct.pack("!HH", 1, 0) + struct.pack("!H", 2) +
            struct.pack("!i", 2) + b"42" + struct.pack("!i", -1) + struct.pack("!HH", 1, 1))
    write("fuzz-codec", "fe_extended",
          fe_ready + msg("P", cstr("s1") + cstr("select $1, $2") + struct.pack("!HII", 2, 23, 0)) +
          msg("B", bind) + msg("D", b"P" + cstr("")) + msg("E", cstr("") + struct.pack("!i", 0)) +
          msg("C", b"S" + cstr("s1")) + msg("H") + msg("S"))
    write("fuzz-codec", "fe_copy",
          fe_ready + msg("d", b"1\tone\n") + msg("c") + msg("f", cstr("gave up")))
    write("fuzz-codec", "fe_function_call",
          fe_ready + msg("F", struct.pack("!IHhH", 1598, 1, 0, 1) + struct.pack("!i", 1) + b"7" +
                         struct.pack("!h", 0)))
    write("fuzz-codec", "fe_sasl_initial",
          fe_auth + msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", 20) + b"n,,n=,r=abcdefghijkl"))
    write("fuzz-codec", "fe_password", fe_auth + msg("p", cstr("md5" + "0" * 32)))
    write("fuzz-codec", "be_startup",
          be_startup + msg("R", struct.pack("!i", 10) + cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0") +
          msg("R", struct.pack("!i", 11) + b"r=abc,s=c2FsdA==,i=4096") +
          msg("R", struct.pack("!i", 12) + b"v=c2lnbmF0dXJl") + msg("R", struct.pack("!i", 0)) +
          msg("S", cstr("server_version") + cstr("15.4")) + msg("K", struct.pack("!ii", 77, 99)) +
          msg("v", struct.pack("!iI", 0, 1) + cstr("_pq_.x")) + msg("Z", b"I"))
    write("fuzz-codec", "be_md5", be_startup + msg("R", struct.pack("!i", 5) + b"salt"))
    field = cstr("n") + struct.pack("!IhIhih", 0, 0, 23, 4, -1, 0)
    write("fuzz-codec", "be_query_result",
          be_ready + msg("T", struct.pack("!H", 1) + field) +
          msg("D", struct.pack("!Hi", 2, 1) + b"1" + struct.pack("!i", -1)) +
          msg("C", cstr("SELECT 1")) + msg("Z", b"T"))
    write("fuzz-codec", "be_extended",
          be_ready + msg("1") + msg("t", struct.pack("!HI", 1, 23)) + msg("n") + msg("2") +
          msg("s") + msg("3") + msg("I") + msg("Z", b"I"))
    write("fuzz-codec", "be_errors",
          be_ready + msg("E", cstr("SERROR") + cstr("VERROR") + cstr("C42601") + cstr("Msyntax error") + b"\0") +
          msg("N", cstr("SNOTICE") + cstr("C00000") + cstr("Mhello") + b"\0") +
          msg("A", struct.pack("!i", 5) + cstr("chan") + cstr("payload")) + msg("Z", b"E"))
    write("fuzz-codec", "be_copy",
          be_ready + msg("G", struct.pack("!bHh", 0, 1, 0)) + msg("H", struct.pack("!bH", 1, 0)) +
          msg("W", struct.pack("!bH", 0, 0)) + msg("d", b"x") + msg("c") +
          msg("V", struct.pack("!i", 1) + b"7") + msg("Z", b"I"))


def scram_corpus():
    password, salt = b"pencil", b"fuzz-salt-16byte"
    cnonce, snonce, iterations = "fuzzclientnonce", "fuzzservernonce", 4096
    binding = bytes([0xAB]) * 32
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def exchange(selector, gs2, cb_data=b""):
        first_bare = f"n=,r={cnonce}"
        server_first = f"r={cnonce}{snonce},s={base64.b64encode(salt).decode()},i={iterations}"
        cbind = base64.b64encode(gs2.encode() + cb_data).decode()
        final_wo_proof = f"c={cbind},r={cnonce}{snonce}"
        auth = f"{first_bare},{server_first},{final_wo_proof}".encode()
        sig = hmac.new(stored_key, auth, hashlib.sha256).digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
        server_sig = base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()).decode()
        parts = [gs2 + first_bare, f"{final_wo_proof},p={proof}", server_first, f"v={server_sig}"]
        return bytes([selector]) + b"\0".join(p.encode() for p in parts)

    write("fuzz-scram", "exchange", exchange(0, "n,,"))
    write("fuzz-scram", "exchange_plus", exchange(1, "p=tls-server-end-point,,", binding))
    write("fuzz-scram", "exchange_tls_no_binding", exchange(3, "n,,"))
    write("fuzz-scram", "exchange_unknown_user", exchange(4, "n,,"))
    write("fuzz-scram", "client_first_extensions",
          b"\0n,,n=user,r=abc,x=ext\0c=biws,r=abcdef,x=1,p=AAAA\0r=fuzzclientnoncex,s=AA==,i=1\0e=invalid-proof")
    write("fuzz-scram", "secret",
          b"\0SCRAM-SHA-256$4096:ZnV6ei1zYWx0LTE2Ynl0ZQ==$" +
          base64.b64encode(stored_key) + b":" + base64.b64encode(server_key))


def main():
    startup_corpus()
    codec_corpus()
    scram_corpus()
    return 0


if __name__ == "__main__":
    sys.exit(main())
