/*
 * A plugin written in C against recsys_plugin.h alone, compiled by the tests with
 * different -D flags: kind "constant" scores every known candidate SCORE - index/1000.
 *   -DPLUGIN_VERSION='"2.0.0"' -DSCORE=2   a newer version that scores differently
 *   -DABI_MAJOR=99                          a plugin built for another ABI
 *   -DNO_ENTRY                              a library that exports no entry point
 *   -DABI_1_0                               a record as an ABI 1.0 plugin has it: struct_size ends
 *                                           before `explain` (which holds junk the host must not read)
 *   -DABI_MINOR=1                           an ABI 1.1 record (ends before set_host_abi), from a plugin
 *                                           older than the host
 *   -DABI_MINOR=9                           a plugin newer than the host: a longer record with a trailing
 *                                           field this header does not know, set_host_abi(), and the 1.2
 *                                           exclusions honoured only when the host says it fills them
 * Otherwise it is a plugin of this header's minor without explanations (explain and set_host_abi NULL).
 *   -DBROKEN=1 / 2 / 3 / 4                  breaks the contract: one item more than capacity / an item
 *                                           that is no candidate / status 42 / a NaN score
 *   -DSLEEP_MS=50                           recommend() first sleeps 50 ms (ignoring cancellation): a slow model
 *   -DREFUSE                                recommend() refuses every request with INVALID_ARGUMENT
 * constant_host_abi_minor() reports what set_host_abi() was told (0: never called).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recsys_plugin.h"

#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION "1.0.0"
#endif
#ifndef SCORE
#define SCORE 1
#endif
#ifndef ABI_MAJOR
#define ABI_MAJOR RECSYS_PLUGIN_ABI_MAJOR
#endif

typedef struct {
  const int64_t *ids;
  size_t count;
} constant_model;

static recsys_status create(const recsys_model_config *config, recsys_instance **out, char *error, size_t capacity) {
  for (size_t i = 0; i < config->tensor_count; i++) {
    if (strcmp(config->tensors[i].name, "item_ids") == 0) {
      constant_model *model = malloc(sizeof *model);
      model->ids = config->tensors[i].data;
      model->count = (size_t)config->tensors[i].shape[0];
      *out = (recsys_instance *)model;
      return RECSYS_OK;
    }
  }
  snprintf(error, capacity, "item_ids is missing");
  return RECSYS_INVALID_ARGUMENT;
}

static uint32_t told_host_minor;
__attribute__((unused)) static void set_host_abi(uint32_t major, uint32_t minor) {
  (void)major;
  told_host_minor = minor;
}
uint32_t constant_host_abi_minor(void) { return told_host_minor; }

/* Whether `item` is in one of the request's excluded sets: read only from a host that said its
 * requests have them (ABI >= 1.2), as a plugin newer than its host must. */
static int excluded(const recsys_request *request, int64_t item) {
#if defined(ABI_MINOR) && ABI_MINOR >= 2
  if (told_host_minor < 2) return 0;
  for (size_t s = 0; s < request->excluded_set_count; s++)
    for (size_t i = 0; i < request->excluded_sets[s].count; i++)
      if (request->excluded_sets[s].item_ids[i] == item) return 1;
#else
  (void)request;
  (void)item;
#endif
  return 0;
}

static recsys_status recommend(const recsys_instance *instance, const recsys_request *request, recsys_result *result,
                               char *error, size_t capacity) {
  const constant_model *model = (const constant_model *)instance;
#ifdef SLEEP_MS
  struct timespec pause = {SLEEP_MS / 1000, (SLEEP_MS % 1000) * 1000000L};
  nanosleep(&pause, NULL);
#endif
#ifdef REFUSE
  snprintf(error, capacity, "refused by request");
  return RECSYS_INVALID_ARGUMENT;
#endif
  (void)error;
  (void)capacity;
  for (size_t c = 0; c < request->candidate_count && result->count < result->capacity; c++) {
    int known = 0;
    for (size_t r = 0; r < model->count; r++) known |= model->ids[r] == request->candidate_item_ids[c];
    if (!known) {
      result->unknown_item_ids[result->unknown_count++] = request->candidate_item_ids[c];
      continue;
    }
    if (excluded(request, request->candidate_item_ids[c])) continue;
    result->item_ids[result->count] = request->candidate_item_ids[c];
    result->scores[result->count] = (float)SCORE - (float)c / 1000.0f;
    result->propensities[result->count] = 1.0f;
    result->count++;
  }
#if defined(BROKEN) && BROKEN == 1
  result->count = result->capacity + 1;
#elif defined(BROKEN) && BROKEN == 2
  if (result->count > 0) result->item_ids[0] = 987654321;
#elif defined(BROKEN) && BROKEN == 3
  return 42;
#elif defined(BROKEN) && BROKEN == 4
  if (result->count > 0) result->scores[0] = 0.0f / 0.0f;
#endif
  return RECSYS_OK;
}

static void destroy(recsys_instance *instance) { free(instance); }

static const recsys_tensor_spec specs[] = {{"item_ids", RECSYS_DTYPE_I64, "N", 1}};

#ifdef ABI_1_0
/* Past the end of a 1.0 record lies whatever follows it in memory: a host that read `explain`
 * anyway would call this address and crash. */
static const recsys_plugin registration = {
    ABI_MAJOR, 0, RECSYS_PLUGIN_STRUCT_SIZE_1_0, "constant", PLUGIN_VERSION,
    RECSYS_PLUGIN_NEEDS_CANDIDATES, specs, 1, create, recommend, destroy,
    (recsys_status(*)(const recsys_instance *, const recsys_request *, recsys_explanation *, char *, size_t))1,
};
#elif defined(ABI_MINOR) && ABI_MINOR < 3
/* An older plugin: its record ends before set_host_abi (junk past it must not be called). */
static const recsys_plugin registration = {
    ABI_MAJOR, ABI_MINOR, RECSYS_PLUGIN_STRUCT_SIZE_1_2, "constant", PLUGIN_VERSION,
    RECSYS_PLUGIN_NEEDS_CANDIDATES, specs, 1, create, recommend, destroy, NULL, (void (*)(uint32_t, uint32_t))1,
};
#elif defined(ABI_MINOR)
/* A newer plugin: its record goes on past everything this header knows. */
typedef struct {
  recsys_plugin known;
  void (*from_the_future)(void);
} newer_plugin;
static const newer_plugin newer = {
    {ABI_MAJOR, ABI_MINOR, sizeof(newer_plugin), "constant", PLUGIN_VERSION, RECSYS_PLUGIN_NEEDS_CANDIDATES, specs, 1,
     create, recommend, destroy, NULL, set_host_abi},
    (void (*)(void))1,
};
#define registration (newer.known)
#else
static const recsys_plugin registration = {
    ABI_MAJOR, RECSYS_PLUGIN_ABI_MINOR, sizeof(recsys_plugin), "constant", PLUGIN_VERSION,
    RECSYS_PLUGIN_NEEDS_CANDIDATES, specs, 1, create, recommend, destroy, NULL, NULL,
};
#endif

#ifndef NO_ENTRY
const recsys_plugin *recsys_plugin_entry(void) { return &registration; }
#else
const recsys_plugin *some_other_function(void) { return &registration; }
#endif
