/*
 * A plugin written in C against recsys_plugin.h alone, compiled by the tests with
 * different -D flags: kind "constant" scores every known candidate SCORE - index/1000.
 *   -DPLUGIN_VERSION='"2.0.0"' -DSCORE=2   a newer version that scores differently
 *   -DABI_MAJOR=99                          a plugin built for another ABI
 *   -DNO_ENTRY                              a library that exports no entry point
 *   -DABI_1_0                               a record as an ABI 1.0 plugin has it: struct_size ends
 *                                           before `explain` (which holds junk the host must not read)
 * Without -DABI_1_0 it is an ABI 1.1 plugin without explanations (explain NULL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static recsys_status recommend(const recsys_instance *instance, const recsys_request *request, recsys_result *result,
                               char *error, size_t capacity) {
  const constant_model *model = (const constant_model *)instance;
  (void)error;
  (void)capacity;
  for (size_t c = 0; c < request->candidate_count && result->count < result->capacity; c++) {
    int known = 0;
    for (size_t r = 0; r < model->count; r++) known |= model->ids[r] == request->candidate_item_ids[c];
    if (!known) {
      result->unknown_item_ids[result->unknown_count++] = request->candidate_item_ids[c];
      continue;
    }
    result->item_ids[result->count] = request->candidate_item_ids[c];
    result->scores[result->count] = (float)SCORE - (float)c / 1000.0f;
    result->propensities[result->count] = 1.0f;
    result->count++;
  }
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
#else
static const recsys_plugin registration = {
    ABI_MAJOR, RECSYS_PLUGIN_ABI_MINOR, sizeof(recsys_plugin), "constant", PLUGIN_VERSION,
    RECSYS_PLUGIN_NEEDS_CANDIDATES, specs, 1, create, recommend, destroy, NULL,
};
#endif

#ifndef NO_ENTRY
const recsys_plugin *recsys_plugin_entry(void) { return &registration; }
#else
const recsys_plugin *some_other_function(void) { return &registration; }
#endif
