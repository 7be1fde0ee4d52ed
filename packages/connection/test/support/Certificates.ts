/**
 * Test certificates made at test time with the `openssl` command: a CA, a server certificate for "localhost"
 * (subjectAltName DNS:localhost only, so 127.0.0.1 does NOT match it), a client certificate for a given user, and
 * a second, unrelated CA to prove that verification rejects a chain it does not trust. EC P-256 keys keep it fast.
 *
 * The directory is removed when the scope closes. Nothing here is meant for production use.
 */
import { Effect, type Scope } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"

const exec = promisify(execFile)

export interface Certificates {
  readonly dir: string
  readonly caFile: string
  readonly otherCaFile: string
  readonly serverCertFile: string
  readonly serverKeyFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
}

const openssl = (cwd: string, args: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => exec("openssl", [...args], { cwd }),
    catch: (cause) => new Error(`openssl ${args[0]} failed: ${String(cause)}`)
  })

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const makeCa = (dir: string, name: string) =>
  openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=pgcdc test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign"
  ])

const makeLeaf = (dir: string, name: string, subject: string, extensions: string) =>
  Effect.gen(function* () {
    yield* Effect.promise(() => fs.writeFile(path.join(dir, `${name}.ext`), extensions))
    yield* openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject])
    yield* openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-sha256",
      "-extfile",
      `${name}.ext`
    ])
    // PostgreSQL and libpq insist that private keys are not group/world readable.
    yield* Effect.promise(() => fs.chmod(path.join(dir, `${name}.key`), 0o600))
  })

/** Generates the certificates for `clientUser` into a temporary directory owned by the scope. */
export const makeCertificates = (clientUser: string): Effect.Effect<Certificates, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "pgcdc-certs-"))),
      (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
    )
    yield* makeCa(dir, "ca")
    yield* makeCa(dir, "other-ca")
    yield* makeLeaf(dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    yield* makeLeaf(dir, "client", `/CN=${clientUser}`, "extendedKeyUsage=clientAuth\n")
    return {
      dir,
      caFile: path.join(dir, "ca.crt"),
      otherCaFile: path.join(dir, "other-ca.crt"),
      serverCertFile: path.join(dir, "server.crt"),
      serverKeyFile: path.join(dir, "server.key"),
      clientCertFile: path.join(dir, "client.crt"),
      clientKeyFile: path.join(dir, "client.key")
    }
  })
