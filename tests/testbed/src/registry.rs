//! Debian's `docker-registry` on a free loopback port with basic auth (owned by the images work).
