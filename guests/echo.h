// echo's options and escapes, shared by the toolbox's echo and sh's builtin echo (two programs,
// one behaviour): GNU's -n, -e and -E, and under -e the backslash escapes \a \b \c \e \f \n \r \t
// \v \\ \xHH \0NNN \NNN. Header-only, included by each program that needs it.
#pragma once
#include <stdbool.h>
#include <string.h>

/** Reads the options at argv[1..] into *nl and *esc; returns the index of the first word. */
static int echo_options(int argc, char **argv, bool *nl, bool *esc) {
  *nl = true, *esc = false;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    // an argument is options only if it is all of n, e and E (else it is the first word)
    if (a[0] != '-' || a[1] == 0 || strspn(a + 1, "neE") != strlen(a + 1)) break;
    for (const char *p = a + 1; *p; p++) {
      if (*p == 'n') *nl = false;
      else *esc = *p == 'e';
    }
  }
  return i;
}

static int echo_hex(char c) {
  if ('0' <= c && c <= '9') return c - '0';
  if ('a' <= c && c <= 'f') return c - 'a' + 10;
  if ('A' <= c && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool echo_octal(char c) { return '0' <= c && c <= '7'; }

/**
 * Writes `s` with its escapes applied into `out`, which has room for strlen(s) bytes (an escape
 * never makes more bytes than it is written with); returns the count. At \c it stops and sets
 * *stop: nothing more is written, not even the newline.
 */
static size_t echo_unescape(const char *s, char *out, bool *stop) {
  size_t n = 0;
  while (*s) {
    int c = (unsigned char)*s++;
    if (c != '\\' || !*s) {
      out[n++] = (char)c;
      continue;
    }
    c = (unsigned char)*s++;
    switch (c) {
    case 'a': c = '\a'; break;
    case 'b': c = '\b'; break;
    case 'c': *stop = true; return n;
    case 'e': c = 033; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'v': c = '\v'; break;
    case '\\': break;
    case 'x':
      if (echo_hex(*s) < 0) {
        out[n++] = '\\';
        break;
      }
      c = echo_hex(*s++);
      if (echo_hex(*s) >= 0) c = c * 16 + echo_hex(*s++);
      break;
    case '0':
      // \0NNN: up to three octal digits after the 0
      c = 0;
      for (int k = 0; k < 3 && echo_octal(*s); k++) c = c * 8 + (*s++ - '0');
      break;
    case '1': case '2': case '3': case '4': case '5': case '6': case '7':
      c -= '0';
      for (int k = 0; k < 2 && echo_octal(*s); k++) c = c * 8 + (*s++ - '0');
      break;
    default:
      out[n++] = '\\';
      break;
    }
    out[n++] = (char)c;
  }
  return n;
}
