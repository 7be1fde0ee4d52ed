/**
 * The fake server's bundled TLS identity, for tests only: a certificate for `localhost` and `127.0.0.1` (valid until
 * 2126), its private key, and the certificate of the CA that signed it. Published on purpose: it protects nothing.
 * A client that verifies the server (`sslmode=verify-full`) trusts `fakeTlsCa`; the CA's own key was discarded, so
 * nothing else can be signed by it.
 *
 * It deliberately is not a way to make certificates: tests that need their own pass them in the `tls` option.
 */

/** The CA certificate that signed the fake server's certificate (PEM). */
export const fakeTlsCa = `-----BEGIN CERTIFICATE-----
MIIBrzCCAVWgAwIBAgIUcrDxO1NprAaRn8leO0aanSL/rf0wCgYIKoZIzj0EAwIw
JDEiMCAGA1UEAwwZcGdjZGMgZmFrZSBzZXJ2ZXIgdGVzdCBDQTAgFw0yNjExMjEx
MjM1MTVaGA8yMTI2MTAyODEyMzUxNVowJDEiMCAGA1UEAwwZcGdjZGMgZmFrZSBz
ZXJ2ZXIgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABP7K+OOo08BA
mISSoilpwYithX978kCziCN6MOlxl+UHdWg7HClf7vffz+Xc8vEziior49UChVxG
O2a1URMtZmWjYzBhMB0GA1UdDgQWBBRPp6ATJKnepxP0i9bHfPxO1sRKUjAfBgNV
HSMEGDAWgBRPp6ATJKnepxP0i9bHfPxO1sRKUjAPBgNVHRMBAf8EBTADAQH/MA4G
A1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNIADBFAiAI+orW/NYyD0yJl1vj3zBp
Nz3IxkadGEaTv+q8TN9+6wIhAOboMct8/jMzRmq6DKPUbHd1m2LeUNDLiyqnMPXJ
VcDb
-----END CERTIFICATE-----
`

/** The fake server's certificate, for localhost and 127.0.0.1 (PEM). */
export const fakeTlsCertificate = `-----BEGIN CERTIFICATE-----
MIIByTCCAW+gAwIBAgIUdbl57naTXCDpnxtTvtdYzgbH0powCgYIKoZIzj0EAwIw
JDEiMCAGA1UEAwwZcGdjZGMgZmFrZSBzZXJ2ZXIgdGVzdCBDQTAgFw0yNjExMjEx
MjM1MTVaGA8yMTI2MTAyODEyMzUxNVowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY7aVwvXCq2O3K05w8GdYOBH6QEpOMPe6
n0gqC4gsdqSpa2zb0rUd7T7lPpbwWTH/k/Fg41pbWlEirREKPIVpQ6OBjDCBiTAa
BgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCQYDVR0TBAIwADALBgNVHQ8EBAMC
B4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFH/6fYlrc5/G/TfklKVN
RogVP4slMB8GA1UdIwQYMBaAFE+noBMkqd6nE/SL1sd8/E7WxEpSMAoGCCqGSM49
BAMCA0gAMEUCIFDvaSTxJLrIiizIsKiImMJ925+LQlmOkgt1uPDswL1HAiEA6b8z
uaoClSjygzlWoW2LmpbUIV9QTK13VeidjS9zgG8=
-----END CERTIFICATE-----
`

/** The fake server's private key (PEM, P-256). For tests only. */
export const fakeTlsKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsETgSIZx/K6jWIeG
vpStTccoHhL6LN81rj1USRNHEO6hRANCAARjtpXC9cKrY7crTnDwZ1g4EfpASk4w
97qfSCoLiCx2pKlrbNvStR3tPuU+lvBZMf+T8WDjWltaUSKtEQo8hWlD
-----END PRIVATE KEY-----
`
