/** @pgcdc/connection */
export {}
