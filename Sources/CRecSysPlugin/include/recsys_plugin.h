/*
 * recsys_plugin.h: the whole contract between recsys-sidecar and a model plugin.
 *
 * A plugin is a shared library that exports one function,
 *
 *     const recsys_plugin *recsys_plugin_entry(void);
 *
 * returning a static registration record for one model *kind* ("mlp", "lstm", ...).
 * The sidecar dlopen()s every library in its plugins directory, calls the entry
 * point, checks the ABI version, and from then on creates model *instances* from
 * the tensors of a store version and asks them to recommend.
 *
 * Versioning: RECSYS_PLUGIN_ABI_MAJOR changes when anything here changes
 * incompatibly; a plugin whose major differs is refused. Additions (new fields
 * appended to a struct, new optional function pointers) bump the minor; a host
 * reads a field only if `struct_size` says the plugin's record has it.
 *
 * Skew in the other direction (a plugin newer than the host) is safe from ABI 1.3 on: the
 * host calls the plugin's set_host_abi() (when its record has one) right after registration
 * with the host's own major/minor, and a plugin reads a field appended to recsys_request
 * after 1.1 only when the host's minor says the host's struct has it. A plugin never told
 * (set_host_abi absent or never called: an ABI <= 1.2 host) assumes minor 1.
 *
 *   1.0  create/recommend/destroy
 *   1.1  explain() (optional)
 *   1.2  recsys_request.excluded_sets / excluded_set_count
 *   1.3  set_host_abi() (optional); status codes from recsys_status.h
 *
 * Lifecycle: create() -> recommend() any number of times, from several threads at
 * once (instances are read-only once created) -> destroy(), after the last
 * recommend() returned. The host keeps the tensor memory passed to create() valid
 * until destroy(), so an instance may point into it instead of copying.
 *
 * Errors: every fallible call returns a status (gRPC code numbers, RECSYS_OK = 0)
 * and writes a NUL-terminated message into the caller's `error` buffer. A plugin
 * never aborts, exits or lets an exception escape.
 *
 * Only C types cross this header. Strings are NUL-terminated UTF-8 unless a length
 * is given.
 */
#ifndef RECSYS_PLUGIN_H
#define RECSYS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "recsys_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RECSYS_PLUGIN_ABI_MAJOR 1
#define RECSYS_PLUGIN_ABI_MINOR 3

/* The name of the one function a plugin exports. */
#define RECSYS_PLUGIN_ENTRY_SYMBOL "recsys_plugin_entry"

/* Status codes: the shared table's (gRPC's) numbers, so the host maps them to the call's status
 * as is. A plugin returns one of these; the host turns any other number into INTERNAL naming the
 * plugin. */
typedef int32_t recsys_status;
#define RECSYS_OK RECSYS_STATUS_OK
#define RECSYS_CANCELLED RECSYS_STATUS_CANCELLED
#define RECSYS_INVALID_ARGUMENT RECSYS_STATUS_INVALID_ARGUMENT
#define RECSYS_NOT_FOUND RECSYS_STATUS_NOT_FOUND
#define RECSYS_FAILED_PRECONDITION RECSYS_STATUS_FAILED_PRECONDITION
#define RECSYS_UNIMPLEMENTED RECSYS_STATUS_UNIMPLEMENTED
#define RECSYS_INTERNAL RECSYS_STATUS_INTERNAL

/* Element types, named as in safetensors. */
typedef enum recsys_dtype {
  RECSYS_DTYPE_F32 = 1,
  RECSYS_DTYPE_I64 = 2,
} recsys_dtype;

/*
 * A tensor a kind needs. The host checks a store version against these before
 * create() and refuses missing, extra, mistyped or misshapen tensors.
 *
 * name:  an exact tensor name, or a pattern with one "{n}" standing for a decimal
 *        index ("mlp.{n}.weight"). A pattern matches the names no exact spec takes.
 * shape: dimensions separated by ',': a number ("4"), a symbol ("N", "d") that must
 *        take the same value wherever it appears in the kind's specs, a multiple of
 *        a symbol ("4*H"), or "*" for any size. The rank is the number of dims.
 * required: 1 if the tensor (or, for a pattern, at least one match) must exist.
 * Relations the shapes cannot express (consecutive layer widths) are checked by
 * create(), which rejects a version with RECSYS_INVALID_ARGUMENT.
 */
typedef struct recsys_tensor_spec {
  const char *name;
  recsys_dtype dtype;
  const char *shape;
  int32_t required;
} recsys_tensor_spec;

/* A tensor of a store version: memory owned by the host, valid until destroy(). */
typedef struct recsys_tensor {
  const char *name;
  recsys_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const void *data;       /* little-endian, row-major, aligned to its element size */
  uint64_t byte_count;
} recsys_tensor;

/* What create() gets: the version's model.json and all its tensors. */
typedef struct recsys_model_config {
  const char *manifest_json; /* the text of model.json */
  const recsys_tensor *tensors;
  size_t tensor_count;
} recsys_model_config;

/* ABI 1.2: a set of external item ids, sorted ascending without repeats. */
typedef struct recsys_item_set {
  const int64_t *item_ids;
  size_t count;
} recsys_item_set;

/*
 * One request, as the host validated it. Pointers are valid during recommend() only.
 * candidate_count == 0 means "no candidates": kinds that can rank the whole catalog
 * do so; others return RECSYS_INVALID_ARGUMENT.
 */
typedef struct recsys_request {
  const int64_t *history_item_ids;  /* oldest first */
  const int32_t *history_types;     /* 0 view, 1 click, 2 add-to-cart, 3 purchase */
  size_t history_count;
  const int64_t *candidate_item_ids;
  size_t candidate_count;
  const float *candidate_features;  /* row-major [candidate_count x F] */
  size_t candidate_feature_count;   /* candidate_count * F */
  const float *context;
  size_t context_count;
  uint32_t top_k;                   /* >= 1 */
  int32_t exclude_history;          /* nonzero: leave history items out of the result */
  uint64_t seed;                    /* for exploration policies: same seed, same result */
  const volatile int32_t *cancelled; /* may be NULL; nonzero: the caller gave up, stop early */

  /* ABI 1.2, eligibility: items never to return, besides the history under exclude_history.
   * A plugin of minor >= 2 honours them in every retrieval mode (and still fills top_k when
   * enough eligible items exist); the host refuses a request that sets them for an older
   * plugin. Each set holds item ids sorted ascending without repeats (the request's own
   * exclude_item_ids are one such set, sorted by the host; a named server-side set is another);
   * the memory stays valid during recommend() only. */
  const recsys_item_set *excluded_sets;
  size_t excluded_set_count;
} recsys_request;

/*
 * Caller-provided output buffers. The plugin writes at most `capacity` items
 * (best first, ties broken by lower candidate index; an exploring policy writes its
 * slate in slot order, each item with the probability it was chosen with) and sets
 * `count`; unknown
 * candidates go to `unknown_item_ids` (room for candidate_count) and
 * `unknown_count`.
 */
typedef struct recsys_result {
  int64_t *item_ids;
  float *scores;
  float *propensities;
  size_t capacity;
  size_t count;
  int64_t *unknown_item_ids;
  size_t unknown_count;
} recsys_result;

/*
 * ABI 1.1: what explain() gets and fills, for the items one request returned. The host fills
 * both outputs with NaN before the call; a plugin writes only what it knows.
 *
 * contributions[i * history_count + p]: score(item_ids[i] | the history the model used) minus
 * score(item_ids[i] | that history without the event at request position p) (occlusion), for
 * every event p the model used (known items, the last max_history of them); NaN elsewhere.
 * attention[p]: an attention kind's last-block weight (averaged over heads) of the last
 * position's query on the event at request position p; NaN for events it did not use or for
 * kinds without attention. Attention is not a contribution and is labelled as such.
 */
typedef struct recsys_explanation {
  const int64_t *item_ids;  /* items the same request returned, best first */
  size_t item_count;
  float *contributions;     /* [item_count x request->history_count] */
  float *attention;         /* [request->history_count] */
} recsys_explanation;

typedef struct recsys_instance recsys_instance;

/* Kind-level properties. */
#define RECSYS_PLUGIN_NEEDS_CANDIDATES 1u /* cannot rank the whole catalog */

typedef struct recsys_plugin {
  /* Handshake: always first, never moved. */
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;        /* sizeof(recsys_plugin) as the plugin was compiled */
  const char *kind;            /* the model.json "kind" this plugin serves */
  const char *plugin_version;  /* the plugin's own version, e.g. "1.2.0" */
  uint32_t flags;              /* RECSYS_PLUGIN_* */
  const recsys_tensor_spec *tensor_specs;
  size_t tensor_spec_count;

  /* Creates an instance, or returns an error and leaves *out NULL. */
  recsys_status (*create)(const recsys_model_config *config, recsys_instance **out,
                          char *error, size_t error_capacity);
  /* Ranks for one request. Thread-safe: may run concurrently on one instance. */
  recsys_status (*recommend)(const recsys_instance *instance, const recsys_request *request,
                             recsys_result *result, char *error, size_t error_capacity);
  /* Frees an instance; called once, after its last recommend() returned. */
  void (*destroy)(recsys_instance *instance);

  /* ABI 1.1, optional (NULL, or absent when struct_size ends before it): per-item
   * explanations for a request recommend() answered (see recsys_explanation). Thread-safe like
   * recommend(). A host reads it only when struct_size covers it; a kind without it simply has
   * no explanations. */
  recsys_status (*explain)(const recsys_instance *instance, const recsys_request *request,
                           recsys_explanation *explanation, char *error, size_t error_capacity);

  /* ABI 1.3, optional (NULL, or absent when struct_size ends before it): the host calls it once,
   * right after registration and before any create(), with its own RECSYS_PLUGIN_ABI_MAJOR and
   * _MINOR. A plugin reads request fields of a minor newer than 1.1 only when host_minor has
   * them. */
  void (*set_host_abi)(uint32_t host_major, uint32_t host_minor);
} recsys_plugin;

/* The size of an ABI 1.0 record (everything before `explain`): the smallest a host accepts. */
#define RECSYS_PLUGIN_STRUCT_SIZE_1_0 offsetof(recsys_plugin, explain)
/* The size of an ABI 1.1/1.2 record (everything before `set_host_abi`). */
#define RECSYS_PLUGIN_STRUCT_SIZE_1_2 offsetof(recsys_plugin, set_host_abi)

/* The entry point's type. */
typedef const recsys_plugin *(*recsys_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_PLUGIN_H */
