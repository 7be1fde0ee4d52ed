/**
 * @pgcdc/testing: what users and our own tests use to test replication consumers: test-database providers
 * (PGCDC_TEST_URL, Testcontainers, embedded PostgreSQL 14 to 18).
 */
export {
  baseSettings,
  freePort,
  type Major,
  majors,
  TestDatabase,
  TestDatabaseError,
  type TestDatabaseInfo,
  type TestDatabaseOptions,
  type TestDatabaseSource
} from "./TestDatabase.ts"
