// hiredis (Debian: libhiredis-dev, 0.14): the Redis client the shared experiment state uses.
// Only its blocking API is used, from Sources/RedisState/RedisConnection.swift.
#include <hiredis/hiredis.h>
#include <sys/time.h>
