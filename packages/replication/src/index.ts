/** @pgcdc/replication */
export {}
