/*
 * Text between WASI, whose strings are UTF-8 bytes, and Duktape, whose strings are sequences of
 * UTF-16 code units (ECMA-262 6.1.4) stored as CESU-8: each code unit encoded on its own, so a
 * character outside the BMP is a surrogate pair of two 3-byte sequences. Decoding follows the
 * WHATWG Encoding Standard's UTF-8 decoder (invalid input becomes U+FFFD, one per maximal
 * subpart); encoding joins surrogate pairs and writes a lone surrogate as U+FFFD, as TextEncoder
 * does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "js.h"

/* Writes code unit `unit` (< 0x10000) as 1-3 bytes at out + at (when out is set); returns the count. */
static size_t put_unit(unsigned char *out, size_t at, uint32_t unit) {
  if (unit < 0x80) {
    if (out) out[at] = (unsigned char)unit;
    return 1;
  }
  if (unit < 0x800) {
    if (out) {
      out[at] = (unsigned char)(0xC0 | (unit >> 6));
      out[at + 1] = (unsigned char)(0x80 | (unit & 0x3F));
    }
    return 2;
  }
  if (out) {
    out[at] = (unsigned char)(0xE0 | (unit >> 12));
    out[at + 1] = (unsigned char)(0x80 | ((unit >> 6) & 0x3F));
    out[at + 2] = (unsigned char)(0x80 | (unit & 0x3F));
  }
  return 3;
}

/*
 * UTF-8 → CESU-8; with out NULL, only counts the bytes. *changed tells whether any byte differs
 * (a replacement can take as many bytes as it replaces).
 */
static size_t decode_utf8(const unsigned char *in, size_t length, unsigned char *out, int *changed) {
  size_t i = 0, o = 0;
  *changed = 0;
  while (i < length) {
    unsigned lead = in[i];
    if (lead < 0x80) {
      if (out) out[o] = (unsigned char)lead;
      o++;
      i++;
      continue;
    }
    size_t needed;
    uint32_t point;
    unsigned low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1;
      point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2;
      point = lead & 0x0F;
      if (lead == 0xE0) low = 0xA0;  /* overlong */
      if (lead == 0xED) high = 0x9F; /* a surrogate */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3;
      point = lead & 0x07;
      if (lead == 0xF0) low = 0x90;  /* overlong */
      if (lead == 0xF4) high = 0x8F; /* above U+10FFFF */
    } else {
      o += put_unit(out, o, 0xFFFD);
      *changed = 1;
      i++;
      continue;
    }
    size_t seen = 1;
    while (seen <= needed && i + seen < length && in[i + seen] >= low && in[i + seen] <= high) {
      point = (point << 6) | (in[i + seen] & 0x3F);
      low = 0x80;
      high = 0xBF;
      seen++;
    }
    if (seen <= needed) {
      /* The byte that broke the sequence starts the next one. */
      o += put_unit(out, o, 0xFFFD);
      *changed = 1;
      i += seen;
      continue;
    }
    i += seen;
    if (point >= 0x10000) {
      *changed = 1;
      point -= 0x10000;
      o += put_unit(out, o, 0xD800 + (point >> 10));
      o += put_unit(out, o, 0xDC00 + (point & 0x3FF));
    } else {
      o += put_unit(out, o, point);
    }
  }
  return o;
}

void js_push_utf8(duk_context *ctx, const char *bytes, size_t length) {
  const unsigned char *in = (const unsigned char *)bytes;
  int changed;
  size_t decoded = decode_utf8(in, length, NULL, &changed);
  if (!changed) {
    /* Only ASCII and BMP characters, all valid: the bytes are already CESU-8. */
    duk_push_lstring(ctx, bytes, length);
    return;
  }
  unsigned char *out = duk_push_fixed_buffer(ctx, decoded);
  decode_utf8(in, length, out, &changed);
  duk_buffer_to_string(ctx, -1);
}

/*
 * CESU-8 → UTF-8. The output is never longer than the input (a pair's 6 bytes become 4, a lone
 * surrogate's 3 become U+FFFD's 3), so out may be in.
 */
static size_t encode_utf8(const unsigned char *in, size_t length, unsigned char *out) {
  size_t i = 0, o = 0;
  while (i < length) {
    if (in[i] == 0xED && i + 2 < length && (in[i + 1] & 0xE0) == 0xA0) {
      uint32_t unit = 0xD000 | ((uint32_t)(in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F);
      if (unit < 0xDC00 && i + 5 < length && in[i + 3] == 0xED && (in[i + 4] & 0xF0) == 0xB0) {
        uint32_t second = 0xD000 | ((uint32_t)(in[i + 4] & 0x3F) << 6) | (in[i + 5] & 0x3F);
        uint32_t point = 0x10000 + ((unit - 0xD800) << 10) + (second - 0xDC00);
        out[o++] = (unsigned char)(0xF0 | (point >> 18));
        out[o++] = (unsigned char)(0x80 | ((point >> 12) & 0x3F));
        out[o++] = (unsigned char)(0x80 | ((point >> 6) & 0x3F));
        out[o++] = (unsigned char)(0x80 | (point & 0x3F));
        i += 6;
      } else {
        o += put_unit(out, o, 0xFFFD);
        i += 3;
      }
      continue;
    }
    out[o++] = in[i++];
  }
  return o;
}

void js_write_string(duk_context *ctx, duk_idx_t index, FILE *out) {
  duk_size_t length;
  const char *text = duk_get_lstring(ctx, index, &length);
  if (text == NULL) return;
  /* Surrogates, the only bytes that change, all start with 0xED. */
  if (memchr(text, 0xED, length) == NULL) {
    fwrite(text, 1, length, out);
    return;
  }
  unsigned char *copy = duk_push_fixed_buffer(ctx, length);
  memcpy(copy, text, length);
  fwrite(copy, 1, encode_utf8(copy, length, copy), out);
  duk_pop(ctx);
}

const char *js_require_utf8(duk_context *ctx, duk_idx_t index) {
  index = duk_require_normalize_index(ctx, index);
  duk_size_t length;
  const char *text = duk_require_lstring(ctx, index, &length);
  if (memchr(text, '\0', length) != NULL) {
    (void)duk_type_error(ctx, "a path or name cannot contain NUL characters");
  }
  if (memchr(text, 0xED, length) == NULL) return text;
  unsigned char *copy = duk_push_fixed_buffer(ctx, length + 1);
  memcpy(copy, text, length);
  copy[encode_utf8(copy, length, copy)] = '\0';
  duk_replace(ctx, index);
  return (const char *)duk_get_buffer(ctx, index, NULL);
}
