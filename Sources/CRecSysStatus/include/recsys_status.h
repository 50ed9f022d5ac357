/*
 * recsys_status.h: the one table of status codes the sidecar speaks, shared by the plugin
 * contract (recsys_plugin.h: RECSYS_*) and the grpc++ shim (recsys_shim.h: RS_STATUS_*).
 *
 * The numbers are gRPC's (grpc::StatusCode), so a code passes from a plugin through the host
 * to the wire unchanged; the shim checks them against grpc's enum at compile time. Macros,
 * not an enum: Swift imports them as plain Int32 values, and C plugins get integer constants.
 * Swift code names them through RecSysStatus.StatusCode (code <-> name <-> default message).
 */
#ifndef RECSYS_STATUS_H
#define RECSYS_STATUS_H

#define RECSYS_STATUS_OK 0
#define RECSYS_STATUS_CANCELLED 1
#define RECSYS_STATUS_UNKNOWN 2
#define RECSYS_STATUS_INVALID_ARGUMENT 3
#define RECSYS_STATUS_DEADLINE_EXCEEDED 4
#define RECSYS_STATUS_NOT_FOUND 5
#define RECSYS_STATUS_ALREADY_EXISTS 6
#define RECSYS_STATUS_PERMISSION_DENIED 7
#define RECSYS_STATUS_RESOURCE_EXHAUSTED 8
#define RECSYS_STATUS_FAILED_PRECONDITION 9
#define RECSYS_STATUS_ABORTED 10
#define RECSYS_STATUS_OUT_OF_RANGE 11
#define RECSYS_STATUS_UNIMPLEMENTED 12
#define RECSYS_STATUS_INTERNAL 13
#define RECSYS_STATUS_UNAVAILABLE 14
#define RECSYS_STATUS_DATA_LOSS 15
#define RECSYS_STATUS_UNAUTHENTICATED 16

#endif /* RECSYS_STATUS_H */
