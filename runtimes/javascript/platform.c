/*
 * The time and randomness providers that duk_config.h plugs into Duktape, over WASI's clocks
 * and random_get.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <wasi/api.h>

#include "js.h"

double isola_date_now(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_REALTIME, &now) != 0) return 0.0;
  /* ECMAScript time values are whole milliseconds (ECMA-262 21.4.1.1). */
  return floor((double)now.tv_sec * 1000.0 + (double)(now.tv_nsec / 1000000));
}

double isola_monotonic_now(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return 0.0;
  return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

/* Random words are fetched from the host a batch at a time: one random_get per 32 draws. */
#define RANDOM_BATCH 32
static uint64_t random_words[RANDOM_BATCH];
static unsigned random_left;

void js_random_reset(void) { random_left = 0; }

double isola_random_double(void) {
  if (random_left == 0) {
    if (__wasi_random_get((uint8_t *)random_words, sizeof random_words) != 0) {
      /* No randomness is not a state a script could recover from. */
      abort();
    }
    random_left = RANDOM_BATCH;
  }
  uint64_t bits = random_words[--random_left];
  /* The top 53 bits as a fraction in [0, 1): every double there with equal probability spacing. */
  return (double)(bits >> 11) * (1.0 / 9007199254740992.0);
}
