/** @pgcdc/testing */
export {}
