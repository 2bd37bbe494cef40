// sh: the small shell of wasmbox (issue 7). Reads commands from -c STRING, a script file, or stdin
// (with a "$ " prompt on stderr when stdin and stderr are terminals, or with -i), and runs them.
//
// Supported:
//   - simple commands with assignments (`A=1 cmd` for one command, `A=1` for the shell) and
//     redirections: `<`, `>`, `>|`, `>>`, `N<`, `N>`, `N>>` (N = 0, 1 or 2), `N>&M`, `N<&M`;
//   - quoting: '...', "..." (with \$ \` \" \\ and \newline), backslash; comments (#);
//   - lists: `;`, newlines, `&&`, `||` (a newline may follow && and ||), `! cmd`;
//   - expansions: $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w} ${NAME+w} ${NAME:=w} ${NAME=w}
//     ${NAME:?w} ${NAME?w} ${#NAME}, $? $# $0..$9 $@ "$@" $* $$ $- , ~ and ~/ (HOME); unquoted
//     expansions are split on IFS (whitespace only) and glob patterns (* ? [...]) are expanded;
//   - builtins: cd [-|DIR], pwd [-LP], export [-p] [NAME[=V]]..., unset NAME..., exit [N],
//     set [-ex] [+ex] [-- ARG...], shift [N], . FILE / source FILE, type NAME..., :, true, false;
//   - scripts: `sh FILE [ARG...]`, `sh -c 'CMD' [NAME [ARG...]]`, commands on stdin;
//   - options: -c, -e (exit on error), -x (trace to stderr), -i (interactive), -n (parse only);
//   - exit status: that of the last command; 127 command not found, 126 cannot run, 2 syntax error.
// Not supported (a syntax error that says so, not a guess): pipelines (|), background jobs (&),
// command substitution ($(...) and `...`), arithmetic ($((...))), here-documents (<<), subshells
// and groups ( ( ) and { } ), if/while/for/case, functions, fds above 2 in redirections. Not
// builtins (so "not found"): exec, eval, read, trap, wait, alias; no job control, no signals.
// Differences from POSIX sh: IFS splitting treats every IFS character as white space; $$ is a
// random number fixed for the shell's life (WASI has no process ids); $! is empty; a syntax error
// ends a non-interactive shell with status 2 after the lines before it have run.
//
// `sh -n` parses without running and prints the structure, one line per command: each and-or list
// is numbered, `[1] first-command` then `    && next` / `    || next`. Words are printed in a
// canonical form that shows their quoting: unquoted text as is, quoted text in '...', expansions as
// ${NAME} (unquoted: split and globbed) or "${NAME}" (quoted); redirections as N>word, N>>word,
// N<word, N>&M; assignments as NAME=word. For example
//   sh -n -c 'X=1 ls -l "$HOME" d\ e >out 2>&1 && true'
// prints
//   [1] X=1 ls -l "${HOME}" d' 'e 1>out 2>&1
//       && true
//
// External commands run through the host's non-standard import wasmbox.spawn (guests/wasmbox.h):
// the shell finds the program through PATH itself (a name with a '/' is used as given), passes its
// working directory and the exported variables, and the fds 0-2 after redirections. A file that
// is not WebAssembly (ENOEXEC) is run as a shell script by this shell's own program.
// WASI has no process-wide current directory (wasi-libc keeps one): the shell starts in $PWD and
// keeps PWD (logical, like `cd -L`) up to date for the programs it starts.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasmbox.h"

extern char **environ;

static const char *USAGE =
    "Usage: sh [-neix] [-c COMMAND [NAME [ARG...]] | SCRIPT [ARG...]]\n"
    "The wasmbox shell: simple commands, quoting, ; && || !, redirections (< > >> 2> 2>&1),\n"
    "$VAR ${VAR} $? expansion, globs, builtins (cd pwd export unset exit set shift . type).\n"
    "Not supported: pipelines (|), background jobs (&), command substitution, here-documents,\n"
    "subshells, if/while/for/case, functions, exec, eval, read.\n";

// ---------------------------------------------------------------------------------------------
// Memory: an arena with marks, released after each command line (nested for `.` and -c)

struct chunk {
  struct chunk *prev;
  size_t used, size;
  char data[];
};
static struct chunk *arena;

static void oom(void) {
  static const char m[] = "sh: out of memory\n";
  write(2, m, sizeof m - 1);
  exit(2);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) oom();
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

#include "paths.h"

static void *aalloc(size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (!arena || arena->size - arena->used < n) {
    size_t size = n > 65536 ? n : 65536;
    struct chunk *c = xmalloc(sizeof *c + size);
    c->prev = arena, c->used = 0, c->size = size;
    arena = c;
  }
  void *p = arena->data + arena->used;
  arena->used += n;
  memset(p, 0, n);
  return p;
}

struct mark {
  struct chunk *c;
  size_t used;
};

static struct mark amark(void) { return (struct mark){arena, arena ? arena->used : 0}; }

static void arelease(struct mark m) {
  while (arena && arena != m.c) {
    struct chunk *p = arena->prev;
    free(arena);
    arena = p;
  }
  if (arena) arena->used = m.used;
}

static char *astrndup(const char *s, size_t n) {
  char *p = aalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

// growable byte string in the arena's style but on the heap (freed by the caller)
struct sbuf {
  char *s;
  size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}
static void sb_addc(struct sbuf *b, char c) { sb_add(b, &c, 1); }
static void sb_adds(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

// ---------------------------------------------------------------------------------------------
// Messages (glibc's wording for errnos, as the toolbox uses)

static const char *errstr(int e) {
  switch (e) {
  case ENOENT: return "No such file or directory";
  case ENOTDIR: return "Not a directory";
  case EISDIR: return "Is a directory";
  case EEXIST: return "File exists";
  case EACCES: return "Permission denied";
  case EPERM: return "Operation not permitted";
  case EROFS: return "Read-only file system";
  case ENOSPC: return "No space left on device";
  case ELOOP: return "Too many levels of symbolic links";
  case ENAMETOOLONG: return "File name too long";
  case EINVAL: return "Invalid argument";
  case EBADF: return "Bad file descriptor";
  case ENOSYS: return "Function not implemented";
  case ENOTSUP: return "Operation not supported";
  case ENOEXEC: return "Exec format error";
  case EMFILE: return "Too many open files";
  case E2BIG: return "Argument list too long";
  case ENOMEM: return "Cannot allocate memory";
  case ENOTCAPABLE: return "Capabilities insufficient";
  default: return strerror(e);
  }
}

static void fdputs(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += w, n -= (size_t)w;
  }
}

static void fdprintf(int fd, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < (int)sizeof small) {
    fdputs(fd, small);
    return;
  }
  char *big = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  fdputs(fd, big);
  free(big);
}

#define err(...) fdprintf(2, "sh: " __VA_ARGS__)

// ---------------------------------------------------------------------------------------------
// Shell state

struct var {
  char *name, *value;
  bool exported;
  struct var *next;
};

static struct var *vars;
static char *cur_dir;        // logical working directory (PWD)
static int last_status;
static char *arg0 = "sh";
static char **params;        // $1...
static int nparams;
static bool opt_e, opt_x, opt_i, opt_n;
static unsigned shell_id;    // $$: WASI has no pids; a random number fixed for this shell
static const char *self_name = "sh";

static struct var *findvar(const char *name) {
  for (struct var *v = vars; v; v = v->next)
    if (!strcmp(v->name, name)) return v;
  return NULL;
}

static void setvar(const char *name, const char *value, int export_flag) {
  struct var *v = findvar(name);
  if (!v) {
    v = xmalloc(sizeof *v);
    v->name = xstrdup(name);
    v->value = NULL;
    v->exported = false;
    v->next = vars;
    vars = v;
  }
  if (value) {
    char *nv = xstrdup(value);
    free(v->value);
    v->value = nv;
  }
  if (export_flag >= 0) v->exported = export_flag;
}

static void unsetvar(const char *name) {
  for (struct var **pp = &vars; *pp; pp = &(*pp)->next) {
    if (!strcmp((*pp)->name, name)) {
      struct var *v = *pp;
      *pp = v->next;
      free(v->name), free(v->value), free(v);
      return;
    }
  }
}

static bool valid_name(const char *s, size_t n) {
  if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
  return true;
}

/** A variable's value, or NULL when unset. Specials are computed into a static buffer. */
static const char *getvar(const char *name) {
  static char buf[64];
  static struct sbuf joined;
  if (!strcmp(name, "?")) return snprintf(buf, sizeof buf, "%d", last_status), buf;
  if (!strcmp(name, "#")) return snprintf(buf, sizeof buf, "%d", nparams), buf;
  if (!strcmp(name, "$")) return snprintf(buf, sizeof buf, "%u", shell_id), buf;
  if (!strcmp(name, "!")) return "";
  if (!strcmp(name, "-")) {
    char *o = buf;
    if (opt_e) *o++ = 'e';
    if (opt_i) *o++ = 'i';
    if (opt_x) *o++ = 'x';
    *o = 0;
    return buf;
  }
  if (!strcmp(name, "0")) return arg0;
  if (isdigit((unsigned char)name[0])) {
    int n = atoi(name);
    return n >= 1 && n <= nparams ? params[n - 1] : NULL;
  }
  if (!strcmp(name, "@") || !strcmp(name, "*")) {
    joined.len = 0;
    sb_add(&joined, "", 0);
    for (int i = 0; i < nparams; i++) {
      if (i) sb_addc(&joined, ' ');
      sb_adds(&joined, params[i]);
    }
    return joined.s;
  }
  struct var *v = findvar(name);
  return v ? v->value : NULL;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

enum { S_LIT, S_QLIT, S_VAR, S_QVAR };

struct word;
struct seg {
  int kind;
  char *text;         // literal text, or the variable name
  char op;            // for ${NAME op word}: 0, '-', '=', '+', '?', or '#' for ${#NAME}
  bool colon;         // ${NAME:-word} etc.
  struct word *alt;   // the word of ${NAME op word}
  struct seg *next;
  size_t len, cap;    // a literal being built: its length, and the room in `text` (wb_seg)
};

struct word {
  struct seg *segs;
  struct word *next;
};

enum { R_IN, R_OUT, R_APPEND, R_DUPOUT, R_DUPIN };

struct redir {
  int fd, kind;
  struct word *target;
  struct redir *next;
};

enum { C_FIRST, C_AND, C_OR };

struct cmd {
  int conn;            // how it joins the previous command of its and-or list
  bool bang;           // `! cmd`
  struct word *assigns;
  struct word *args;
  struct redir *redirs;
  int lineno;
  struct cmd *next;
};

struct andor {
  struct cmd *cmds;
  struct andor *next;
};

// ---------------------------------------------------------------------------------------------
// Lexer and parser. They work on a buffer that may grow (more lines from stdin or a terminal):
// when the input ends inside a construct, `more` is set and the caller reads another line and
// parses the whole command line again (unless `final`, when it is a syntax error).

enum { T_WORD, T_NEWLINE, T_SEMI, T_AND, T_OR, T_REDIR, T_BANG, T_EOF, T_ERR };

static struct {
  const char *buf;
  size_t len, pos;
  int lineno;
  bool final;        // no more input can come
  bool more;         // input ended inside a construct
  char *error;       // syntax error message
  // one token of lookahead
  bool peeked;
  int tt;
  struct word *tw;
  int trfd, trkind;
  size_t tstart;
  int tline;
} P;

static void syntax(const char *fmt, ...) {
  if (P.error || P.more) return;
  va_list ap;
  va_start(ap, fmt);
  char b[256];
  vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  P.error = astrndup(b, strlen(b));
}

/** Input ended inside a construct: ask for more, or report `what` when no more can come. */
static void incomplete(const char *what) {
  if (P.final) syntax("%s", what);
  else P.more = true;
}

static bool at_end(void) { return P.pos >= P.len; }

struct wb {
  struct word *w;
  struct seg *last;
  bool any;
};

static void wb_seg(struct wb *b, int kind, const char *text, size_t n) {
  if ((kind == S_LIT || kind == S_QLIT) && b->last && b->last->kind == kind) {
    // appended in place, the room doubled when it runs out: a word of n bytes costs O(n), not O(n^2)
    struct seg *l = b->last;
    if (l->len + n + 1 > l->cap) {
      size_t cap = (l->len + n + 1) * 2;
      char *t = aalloc(cap);
      memcpy(t, l->text, l->len);
      l->text = t;
      l->cap = cap;
    }
    memcpy(l->text + l->len, text, n);
    l->len += n;
    l->text[l->len] = 0;
    b->any = true;
    return;
  }
  struct seg *s = aalloc(sizeof *s);
  s->kind = kind;
  s->text = astrndup(text, n);
  s->len = n;
  s->cap = n + 1;
  if (b->last) b->last->next = s;
  else b->w->segs = s;
  b->last = s;
  b->any = true;
}

static struct seg *wb_var(struct wb *b, bool quoted, const char *name, size_t n) {
  wb_seg(b, quoted ? S_QVAR : S_VAR, name, n);
  return b->last;
}

static void lex_dollar(struct wb *b, bool quoted);

/** The word of ${NAME op word}, up to the matching '}'. */
static struct word *lex_brace_word(bool quoted) {
  struct word *w = aalloc(sizeof *w);
  struct wb b = {w, NULL, false};
  wb_seg(&b, quoted ? S_QLIT : S_LIT, "", 0);  // ${x:-} is an empty word, not no word
  int lit = quoted ? S_QLIT : S_LIT;
  for (;;) {
    if (at_end()) {
      incomplete("missing '}'");
      return NULL;
    }
    char c = P.buf[P.pos];
    if (c == '}') {
      P.pos++;
      return w;
    }
    if (c == '\\') {
      if (P.pos + 1 >= P.len) {
        incomplete("missing '}'");
        return NULL;
      }
      char d = P.buf[P.pos + 1];
      P.pos += 2;
      if (d == '\n') {
        P.lineno++;
        continue;
      }
      if (quoted && !strchr("$`\"\\}", d)) wb_seg(&b, S_QLIT, "\\", 1);
      wb_seg(&b, S_QLIT, &d, 1);
    } else if (c == '\'' && !quoted) {
      const char *q = memchr(P.buf + P.pos + 1, '\'', P.len - P.pos - 1);
      if (!q) {
        incomplete("unterminated quoted string");
        return NULL;
      }
      for (const char *k = P.buf + P.pos + 1; k < q; k++)
        if (*k == '\n') P.lineno++;
      wb_seg(&b, S_QLIT, P.buf + P.pos + 1, (size_t)(q - P.buf - P.pos - 1));
      P.pos = (size_t)(q - P.buf) + 1;
    } else if (c == '"' && !quoted) {
      P.pos++;
      for (;;) {
        if (at_end()) {
          incomplete("unterminated quoted string");
          return NULL;
        }
        char d = P.buf[P.pos];
        if (d == '"') {
          P.pos++;
          break;
        }
        if (d == '$') {
          lex_dollar(&b, true);
          if (P.error || P.more) return NULL;
          continue;
        }
        if (d == '\\' && P.pos + 1 < P.len && strchr("$`\"\\\n", P.buf[P.pos + 1])) {
          if (P.buf[P.pos + 1] != '\n') wb_seg(&b, S_QLIT, P.buf + P.pos + 1, 1);
          else P.lineno++;
          P.pos += 2;
          continue;
        }
        if (d == '\n') P.lineno++;
        wb_seg(&b, S_QLIT, &d, 1);
        P.pos++;
      }
    } else if (c == '$') {
      lex_dollar(&b, quoted);
      if (P.error || P.more) return NULL;
    } else if (c == '`') {
      syntax("command substitution is not supported");
      return NULL;
    } else {
      if (c == '\n') P.lineno++;
      wb_seg(&b, lit, &c, 1);
      P.pos++;
    }
  }
}

static void lex_dollar(struct wb *b, bool quoted) {
  P.pos++;  // the '$'
  if (at_end()) {
    wb_seg(b, quoted ? S_QLIT : S_LIT, "$", 1);
    return;
  }
  char c = P.buf[P.pos];
  if (c == '(') {
    syntax("command substitution $(...) is not supported");
    return;
  }
  if (c == '{') {
    size_t start = ++P.pos;
    bool length = false;
    if (P.pos < P.len && P.buf[P.pos] == '#' && P.pos + 1 < P.len && P.buf[P.pos + 1] != '}') {
      length = true;
      start = ++P.pos;
    }
    if (P.pos < P.len && (isalpha((unsigned char)P.buf[P.pos]) || P.buf[P.pos] == '_')) {
      while (P.pos < P.len && (isalnum((unsigned char)P.buf[P.pos]) || P.buf[P.pos] == '_')) P.pos++;
    } else if (P.pos < P.len && isdigit((unsigned char)P.buf[P.pos])) {
      while (P.pos < P.len && isdigit((unsigned char)P.buf[P.pos])) P.pos++;
    } else if (P.pos < P.len && strchr("?#$@*!-0", P.buf[P.pos])) {
      P.pos++;
    } else if (at_end()) {
      incomplete("missing '}'");
      return;
    } else {
      syntax("bad substitution");
      return;
    }
    size_t nlen = P.pos - start;
    struct seg *s = wb_var(b, quoted, P.buf + start, nlen);
    if (length) s->op = '#';
    if (at_end()) {
      incomplete("missing '}'");
      return;
    }
    c = P.buf[P.pos];
    if (c == '}') {
      P.pos++;
      return;
    }
    if (length) {
      syntax("bad substitution");
      return;
    }
    if (c == ':') {
      s->colon = true;
      P.pos++;
      if (at_end()) {
        incomplete("missing '}'");
        return;
      }
      c = P.buf[P.pos];
    }
    if (!strchr("-=+?", c)) {
      syntax("bad substitution");
      return;
    }
    s->op = c;
    P.pos++;
    s->alt = lex_brace_word(quoted);
    return;
  }
  if (isalpha((unsigned char)c) || c == '_') {
    size_t start = P.pos;
    while (P.pos < P.len && (isalnum((unsigned char)P.buf[P.pos]) || P.buf[P.pos] == '_')) P.pos++;
    wb_var(b, quoted, P.buf + start, P.pos - start);
    return;
  }
  if (isdigit((unsigned char)c) || strchr("?#$@*!-", c)) {
    wb_var(b, quoted, P.buf + P.pos, 1);
    P.pos++;
    return;
  }
  wb_seg(b, quoted ? S_QLIT : S_LIT, "$", 1);
}

static bool word_end(char c) { return strchr(" \t\n;&|<>()", c) != NULL; }

static struct word *lex_word(void) {
  struct word *w = aalloc(sizeof *w);
  struct wb b = {w, NULL, false};
  size_t start = P.pos;
  while (!at_end()) {
    char c = P.buf[P.pos];
    if (word_end(c)) break;
    if (c == '\\') {
      if (P.pos + 1 >= P.len) {
        if (P.final) {  // a backslash at the very end stands for itself
          wb_seg(&b, S_QLIT, "\\", 1);
          P.pos++;
          continue;
        }
        incomplete("");
        return NULL;
      }
      char d = P.buf[P.pos + 1];
      P.pos += 2;
      if (d == '\n') {
        P.lineno++;
        continue;
      }
      wb_seg(&b, S_QLIT, &d, 1);
      continue;
    }
    if (c == '\'') {
      const char *q = memchr(P.buf + P.pos + 1, '\'', P.len - P.pos - 1);
      if (!q) {
        incomplete("unterminated quoted string");
        return NULL;
      }
      for (const char *k = P.buf + P.pos + 1; k < q; k++)
        if (*k == '\n') P.lineno++;
      wb_seg(&b, S_QLIT, P.buf + P.pos + 1, (size_t)(q - P.buf - P.pos - 1));
      P.pos = (size_t)(q - P.buf) + 1;
      continue;
    }
    if (c == '"') {
      P.pos++;
      struct seg *before = b.last;
      size_t before_len = before ? strlen(before->text) : 0;
      for (;;) {
        if (at_end()) {
          incomplete("unterminated quoted string");
          return NULL;
        }
        char d = P.buf[P.pos];
        if (d == '"') {
          P.pos++;
          break;
        }
        if (d == '$') {
          lex_dollar(&b, true);
          if (P.error || P.more) return NULL;
          continue;
        }
        if (d == '`') {
          syntax("command substitution is not supported");
          return NULL;
        }
        if (d == '\\') {
          if (P.pos + 1 >= P.len) {
            incomplete("unterminated quoted string");
            return NULL;
          }
          char e = P.buf[P.pos + 1];
          if (e == '\n') {
            P.lineno++;
            P.pos += 2;
            continue;
          }
          if (strchr("$`\"\\", e)) {
            wb_seg(&b, S_QLIT, &e, 1);
            P.pos += 2;
            continue;
          }
        }
        if (d == '\n') P.lineno++;
        wb_seg(&b, S_QLIT, &d, 1);
        P.pos++;
      }
      // "" is an (empty) argument; "$@" with no parameters is none
      if (b.last == before && (!before || strlen(before->text) == before_len)) wb_seg(&b, S_QLIT, "", 0);
      continue;
    }
    if (c == '$') {
      lex_dollar(&b, false);
      if (P.error || P.more) return NULL;
      continue;
    }
    if (c == '`') {
      syntax("command substitution is not supported");
      return NULL;
    }
    if (c == '~' && P.pos == start) {
      // tilde: ~ or ~/... is $HOME (quoted: not split); ~user is not supported and stays literal
      if (P.pos + 1 >= P.len || P.buf[P.pos + 1] == '/' || word_end(P.buf[P.pos + 1])) {
        wb_var(&b, true, "HOME", 4);
        P.pos++;
        continue;
      }
    }
    wb_seg(&b, S_LIT, &c, 1);
    P.pos++;
  }
  return w;
}

/** Reads the next token into P.t*. */
static void lex(void) {
  P.tw = NULL;
  for (;;) {
    while (!at_end() && (P.buf[P.pos] == ' ' || P.buf[P.pos] == '\t')) P.pos++;
    if (!at_end() && P.buf[P.pos] == '\\' && P.pos + 1 < P.len && P.buf[P.pos + 1] == '\n') {
      P.pos += 2;
      P.lineno++;
      continue;
    }
    if (!at_end() && P.buf[P.pos] == '#') {
      while (!at_end() && P.buf[P.pos] != '\n') P.pos++;
    }
    break;
  }
  P.tstart = P.pos;
  P.tline = P.lineno;
  if (at_end()) {
    P.tt = T_EOF;
    return;
  }
  char c = P.buf[P.pos];
  char n = P.pos + 1 < P.len ? P.buf[P.pos + 1] : 0;
  switch (c) {
  case '\n':
    P.pos++;
    P.lineno++;
    P.tt = T_NEWLINE;
    return;
  case ';':
    P.pos++;
    P.tt = T_SEMI;
    return;
  case '&':
    if (n == '&') {
      P.pos += 2;
      P.tt = T_AND;
      return;
    }
    syntax("background jobs (&) are not supported");
    P.tt = T_ERR;
    return;
  case '|':
    if (n == '|') {
      P.pos += 2;
      P.tt = T_OR;
      return;
    }
    syntax("pipelines (|) are not supported");
    P.tt = T_ERR;
    return;
  case '(':
  case ')':
    syntax("subshells and functions ( ) are not supported");
    P.tt = T_ERR;
    return;
  }
  // [N]redirection
  size_t k = P.pos;
  int fd = -1;
  while (k < P.len && isdigit((unsigned char)P.buf[k])) k++;
  if (k < P.len && (P.buf[k] == '<' || P.buf[k] == '>')) {
    if (k > P.pos) fd = atoi(P.buf + P.pos);
    char r = P.buf[k];
    char r2 = k + 1 < P.len ? P.buf[k + 1] : 0;
    int kind;
    size_t len = 1;
    if (r == '<') {
      if (r2 == '<') {
        syntax("here-documents (<<) are not supported");
        P.tt = T_ERR;
        return;
      }
      if (r2 == '>') {
        syntax("<> redirections are not supported");
        P.tt = T_ERR;
        return;
      }
      if (r2 == '&') kind = R_DUPIN, len = 2;
      else kind = R_IN;
      if (fd < 0) fd = 0;
    } else {
      if (r2 == '>') kind = R_APPEND, len = 2;
      else if (r2 == '&') kind = R_DUPOUT, len = 2;
      else if (r2 == '|') kind = R_OUT, len = 2;
      else kind = R_OUT;
      if (fd < 0) fd = 1;
    }
    P.pos = k + len;
    P.tt = T_REDIR;
    P.trfd = fd;
    P.trkind = kind;
    return;
  }
  P.tw = lex_word();
  P.tt = (P.error || P.more) ? T_ERR : T_WORD;
  if (P.tt == T_WORD && P.tw->segs && !P.tw->segs->next && P.tw->segs->kind == S_LIT && !strcmp(P.tw->segs->text, "!"))
    P.tt = T_BANG;
}

static int peek(void) {
  if (!P.peeked) {
    lex();
    P.peeked = true;
  }
  return P.tt;
}

static void consume(void) { P.peeked = false; }

static const char *token_name(int t) {
  switch (t) {
  case T_NEWLINE: return "newline";
  case T_SEMI: return "';'";
  case T_AND: return "'&&'";
  case T_OR: return "'||'";
  case T_EOF: return "end of file";
  case T_REDIR: return "redirection";
  case T_BANG: return "'!'";
  default: return "word";
  }
}

static void unexpected(int t) {
  if (t == T_ERR) return;  // already reported (or more input is needed)
  if (t == T_EOF && !P.final) {
    P.more = true;
    return;
  }
  syntax("syntax error: unexpected %s", token_name(t));
}

/** Is this word an assignment NAME=...? (its first segment is unquoted text with NAME=) */
static bool is_assignment(struct word *w) {
  struct seg *s = w->segs;
  if (!s || s->kind != S_LIT) return false;
  const char *eq = strchr(s->text, '=');
  return eq && valid_name(s->text, (size_t)(eq - s->text));
}

/** Reserved words of the control structures this shell does not have. */
static bool is_reserved(struct word *w) {
  static const char *const words[] = {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
                                      "while", "until", "for", "{", "}", "function", "select"};
  struct seg *s = w->segs;
  if (!s || s->next || s->kind != S_LIT) return false;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (!strcmp(s->text, words[i])) return true;
  return false;
}

static struct cmd *parse_cmd(void) {
  struct cmd *c = aalloc(sizeof *c);
  c->lineno = P.lineno;
  struct word **alast = &c->assigns, **wlast = &c->args;
  struct redir **rlast = &c->redirs;
  bool any = false;
  if (peek() == T_BANG) {
    consume();
    c->bang = true;
  }
  for (;;) {
    int t = peek();
    if (t == T_WORD || (t == T_BANG && any)) {
      consume();
      struct word *w = P.tw;
      if (!c->args && !c->assigns && !c->redirs && is_reserved(w)) {
        syntax("'%s' is not supported (no if, while, for, case, functions)", w->segs->text);
        return NULL;
      }
      if (!c->args && is_assignment(w)) {
        *alast = w;
        alast = &w->next;
      } else {
        *wlast = w;
        wlast = &w->next;
      }
      any = true;
    } else if (t == T_REDIR) {
      consume();
      struct redir *r = aalloc(sizeof *r);
      r->fd = P.trfd;
      r->kind = P.trkind;
      int t2 = peek();
      if (t2 != T_WORD) {
        unexpected(t2);
        return NULL;
      }
      consume();
      r->target = P.tw;
      if (r->kind == R_DUPOUT || r->kind == R_DUPIN) {
        struct seg *s = r->target->segs;
        if (!s || s->next || s->kind != S_LIT || strlen(s->text) != 1 || !strchr("012", s->text[0])) {
          syntax("only N>&M with M = 0, 1 or 2 is supported");
          return NULL;
        }
      }
      if (r->fd > 2) {
        syntax("redirection of fd %d is not supported (only 0, 1 and 2)", r->fd);
        return NULL;
      }
      *rlast = r;
      rlast = &r->next;
      any = true;
    } else {
      break;
    }
  }
  if (P.error || P.more) return NULL;
  if (!any) {
    unexpected(peek());
    return NULL;
  }
  return c;
}

static struct andor *parse_andor(void) {
  struct andor *a = aalloc(sizeof *a);
  struct cmd *c = parse_cmd();
  if (!c) return NULL;
  a->cmds = c;
  struct cmd *last = c;
  for (;;) {
    int t = peek();
    if (t != T_AND && t != T_OR) break;
    consume();
    while (peek() == T_NEWLINE) consume();
    if (P.error || P.more) return NULL;
    struct cmd *n = parse_cmd();
    if (!n) return NULL;
    n->conn = t == T_AND ? C_AND : C_OR;
    last->next = n;
    last = n;
  }
  return a;
}

/** Parses one command line (up to a newline at the top level, or the end). */
static struct andor *parse_line(bool *at_eof) {
  struct andor *head = NULL, **tail = &head;
  *at_eof = false;
  for (;;) {
    int t = peek();
    if (t == T_NEWLINE) {
      consume();
      break;
    }
    if (t == T_EOF) {
      *at_eof = true;
      break;
    }
    struct andor *a = parse_andor();
    if (!a) return NULL;
    *tail = a;
    tail = &a->next;
    t = peek();
    if (t == T_SEMI) {
      consume();
      continue;
    }
    if (t == T_NEWLINE) {
      consume();
      break;
    }
    if (t == T_EOF) {
      *at_eof = true;
      break;
    }
    unexpected(t);
    return NULL;
  }
  return head;
}

// ---------------------------------------------------------------------------------------------
// sh -n: printing the structure

static void print_word(struct sbuf *o, struct word *w);

static void print_seg(struct sbuf *o, struct seg *s) {
  if (s->kind == S_LIT) {
    sb_adds(o, s->text);
  } else if (s->kind == S_QLIT) {
    sb_addc(o, '\'');
    for (const char *p = s->text; *p; p++) {
      if (*p == '\'') sb_adds(o, "'\\''");
      else sb_addc(o, *p);
    }
    sb_addc(o, '\'');
  } else {
    bool q = s->kind == S_QVAR;
    if (q) sb_addc(o, '"');
    sb_adds(o, "${");
    if (s->op == '#') sb_addc(o, '#');
    sb_adds(o, s->text);
    if (s->op && s->op != '#') {
      if (s->colon) sb_addc(o, ':');
      sb_addc(o, s->op);
      if (s->alt) print_word(o, s->alt);
    }
    sb_addc(o, '}');
    if (q) sb_addc(o, '"');
  }
}

static void print_word(struct sbuf *o, struct word *w) {
  for (struct seg *s = w->segs; s; s = s->next) {
    if ((s->kind == S_LIT || s->kind == S_QLIT) && !s->text[0] && (s->next || s != w->segs)) continue;
    print_seg(o, s);
  }
}

static void print_cmd(struct sbuf *o, struct cmd *c) {
  bool sp = false;
  if (c->bang) sb_adds(o, "!"), sp = true;
  for (struct word *w = c->assigns; w; w = w->next) {
    if (sp) sb_addc(o, ' ');
    print_word(o, w);
    sp = true;
  }
  for (struct word *w = c->args; w; w = w->next) {
    if (sp) sb_addc(o, ' ');
    print_word(o, w);
    sp = true;
  }
  static const char *ops[] = {"<", ">", ">>", ">&", "<&"};
  for (struct redir *r = c->redirs; r; r = r->next) {
    if (sp) sb_addc(o, ' ');
    char b[16];
    snprintf(b, sizeof b, "%d%s", r->fd, ops[r->kind]);
    sb_adds(o, b);
    print_word(o, r->target);
    sp = true;
  }
}

static int print_serial;

static void print_list(struct andor *l) {
  struct sbuf o = {0};
  for (; l; l = l->next) {
    for (struct cmd *c = l->cmds; c; c = c->next) {
      o.len = 0;
      if (c->conn == C_FIRST) {
        char b[32];
        snprintf(b, sizeof b, "[%d] ", ++print_serial);
        sb_adds(&o, b);
      } else sb_adds(&o, c->conn == C_AND ? "    && " : "    || ");
      print_cmd(&o, c);
      sb_addc(&o, '\n');
      fdputs(1, o.s);
    }
  }
  free(o.s);
}

// ---------------------------------------------------------------------------------------------
// Expansion

struct strv {
  char **v;
  int n, cap;
};

static void sv_push(struct strv *sv, char *s) {
  if (sv->n + 2 > sv->cap) {
    sv->cap = sv->cap ? sv->cap * 2 : 8;
    sv->v = xrealloc(sv->v, sizeof(char *) * (size_t)sv->cap);
  }
  sv->v[sv->n++] = s;
  sv->v[sv->n] = NULL;
}

static void sv_free(struct strv *sv) {
  for (int i = 0; i < sv->n; i++) free(sv->v[i]);
  free(sv->v);
  sv->v = NULL;
  sv->n = sv->cap = 0;
}

struct field {
  struct sbuf text;  // the field's characters
  struct sbuf pat;   // the same as a glob pattern (quoted characters escaped)
  bool glob;         // an unquoted * ? [ is in it
  bool has;          // the field exists (even if empty: "" or '')
};

struct expander {
  struct strv *out;
  bool split;  // field splitting and globbing (command words), or one string (assignments, targets)
  struct field f;
  bool failed;
};

static void fld_add(struct expander *e, const char *s, size_t n, bool quoted) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    sb_addc(&e->f.text, c);
    if (quoted && strchr("*?[]\\", c)) sb_addc(&e->f.pat, '\\');
    else if (!quoted && strchr("*?[", c)) e->f.glob = true;
    sb_addc(&e->f.pat, c);
  }
  e->f.has = true;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void fld_end(struct expander *e) {
  if (!e->f.has) return;
  const char *text = e->f.text.s ? e->f.text.s : "";
  if (e->split && e->f.glob) {
    glob_t g;
    memset(&g, 0, sizeof g);
    if (glob(e->f.pat.s, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
      size_t first = (size_t)e->out->n;
      for (size_t i = 0; i < g.gl_pathc; i++) sv_push(e->out, xstrdup(g.gl_pathv[i]));
      qsort(e->out->v + first, g.gl_pathc, sizeof(char *), cmp_strp);
      globfree(&g);
      goto reset;
    }
    globfree(&g);
  }
  sv_push(e->out, xstrdup(text));
reset:
  e->f.text.len = e->f.pat.len = 0;
  if (e->f.text.s) e->f.text.s[0] = 0;
  if (e->f.pat.s) e->f.pat.s[0] = 0;
  e->f.glob = e->f.has = false;
}

static const char *ifs_chars(void) {
  const char *ifs = getvar("IFS");
  return ifs ? ifs : " \t\n";
}

/** Adds an unquoted expansion's value: split on IFS when splitting. */
static void fld_add_split(struct expander *e, const char *v) {
  if (!e->split) {
    fld_add(e, v, strlen(v), true);
    return;
  }
  const char *ifs = ifs_chars();
  for (const char *p = v; *p; p++) {
    if (strchr(ifs, *p)) {
      fld_end(e);
      continue;
    }
    fld_add(e, p, 1, false);
  }
}

static char *expand_string(struct word *w);

/** The value of ${...} / $NAME, applying the operator; NULL when unset (and nothing substituted). */
static const char *seg_value(struct seg *s, bool *failed, char **owned) {
  const char *v = getvar(s->text);
  *owned = NULL;
  if (s->op == '#') {
    char b[32];
    snprintf(b, sizeof b, "%zu", v ? strlen(v) : 0);
    return *owned = xstrdup(b);
  }
  if (!s->op) return v;
  bool set = v != NULL && (!s->colon || v[0]);
  switch (s->op) {
  case '-':
    if (set) return v;
    return *owned = expand_string(s->alt);
  case '+':
    if (!set) return "";
    return *owned = expand_string(s->alt);
  case '=':
    if (set) return v;
    if (!valid_name(s->text, strlen(s->text))) {
      err("%s: cannot assign in this way\n", s->text);
      *failed = true;
      return "";
    }
    *owned = expand_string(s->alt);
    setvar(s->text, *owned, -1);
    return *owned;
  case '?':
    if (set) return v;
    {
      char *m = expand_string(s->alt);
      err("%s: %s\n", s->text, m && m[0] ? m : "parameter not set");
      free(m);
      *failed = true;
      return "";
    }
  }
  return v;
}

static void expand_segs(struct expander *e, struct word *w) {
  for (struct seg *s = w->segs; s; s = s->next) {
    switch (s->kind) {
    case S_LIT: fld_add(e, s->text, strlen(s->text), false); break;
    case S_QLIT: fld_add(e, s->text, strlen(s->text), true); break;
    case S_QVAR:
      if (!s->op && !strcmp(s->text, "@") && e->split) {
        // "$@": one field per parameter
        for (int i = 0; i < nparams; i++) {
          if (i) fld_end(e);
          fld_add(e, params[i], strlen(params[i]), true);
        }
        break;
      }
      // fall through
    case S_VAR: {
      char *owned;
      const char *v = seg_value(s, &e->failed, &owned);
      if (e->failed) {
        free(owned);
        return;
      }
      if (s->kind == S_QVAR) fld_add(e, v ? v : "", v ? strlen(v) : 0, true);
      else if (v) fld_add_split(e, v);
      free(owned);
      break;
    }
    }
  }
}

/** Expands a word to one string (no splitting, no globbing): assignments, targets, ${x:-word}. */
static char *expand_string(struct word *w) {
  struct strv out = {0};
  struct expander e = {&out, false, {{0}, {0}, false, false}, false};
  if (w) expand_segs(&e, w);
  e.f.has = true;
  fld_end(&e);
  free(e.f.text.s), free(e.f.pat.s);
  char *r = out.v[0];
  free(out.v);
  return r;
}

/** Expands command words into fields; false if an expansion failed (${x?}). */
static bool expand_words(struct word *w, struct strv *out) {
  struct expander e = {out, true, {{0}, {0}, false, false}, false};
  for (; w && !e.failed; w = w->next) {
    expand_segs(&e, w);
    fld_end(&e);
  }
  free(e.f.text.s), free(e.f.pat.s);
  return !e.failed;
}

// ---------------------------------------------------------------------------------------------
// Paths

/** Finds a command: a name with '/' as given (made absolute), else through PATH. NULL if none. */
static char *find_command(const char *name, int *why) {
  struct stat st;
  *why = ENOENT;
  if (strchr(name, '/')) {
    char *p = path_normalize(cur_dir, name);
    if (stat(p, &st) != 0) {
      *why = errno;
      free(p);
      return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
      *why = EISDIR;
      free(p);
      return NULL;
    }
    return p;
  }
  const char *path = getvar("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  const char *d = path;
  for (;;) {
    const char *e = strchr(d, ':');
    size_t n = e ? (size_t)(e - d) : strlen(d);
    char *dir = n ? strndup(d, n) : xstrdup(".");
    if (!dir) oom();
    char *cand = path_join(dir, name);
    char *abs = path_normalize(cur_dir, cand);
    free(dir), free(cand);
    if (stat(abs, &st) == 0 && !S_ISDIR(st.st_mode)) return abs;
    free(abs);
    if (!e) break;
    d = e + 1;
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Builtins: each gets argv and the fds its stdin/stdout/stderr are redirected to

typedef int (*builtin_fn)(int argc, char **argv, const int *fds);

static void sh_exit(int status);
static int run_source(char *buf, size_t len, int fd, bool interactive, const char *name);

static int bi_true(int argc, char **argv, const int *fds) { (void)argc, (void)argv, (void)fds; return 0; }
static int bi_false(int argc, char **argv, const int *fds) { (void)argc, (void)argv, (void)fds; return 1; }

static void set_cwd(const char *dir) {
  char *d = xstrdup(dir);
  free(cur_dir);
  cur_dir = d;
  setvar("PWD", cur_dir, 1);
}

static int bi_cd(int argc, char **argv, const int *fds) {
  int i = 1;
  while (i < argc && (!strcmp(argv[i], "-L") || !strcmp(argv[i], "-P"))) i++;
  if (i < argc && !strcmp(argv[i], "--")) i++;
  const char *target;
  bool print = false;
  if (i >= argc) {
    target = getvar("HOME");
    if (!target || !*target) {
      fdprintf(fds[2], "sh: cd: HOME not set\n");
      return 1;
    }
  } else if (i + 1 < argc) {
    fdprintf(fds[2], "sh: cd: too many arguments\n");
    return 1;
  } else if (!strcmp(argv[i], "-")) {
    target = getvar("OLDPWD");
    if (!target || !*target) {
      fdprintf(fds[2], "sh: cd: OLDPWD not set\n");
      return 1;
    }
    print = true;
  } else target = argv[i];
  char *dir = path_normalize(cur_dir, target);
  struct stat st;
  if (stat(dir, &st) != 0) {
    fdprintf(fds[2], "sh: cd: %s: %s\n", target, errstr(errno));
    free(dir);
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    fdprintf(fds[2], "sh: cd: %s: %s\n", target, errstr(ENOTDIR));
    free(dir);
    return 1;
  }
  if (chdir(dir) != 0) {
    fdprintf(fds[2], "sh: cd: %s: %s\n", target, errstr(errno));
    free(dir);
    return 1;
  }
  setvar("OLDPWD", cur_dir, 1);
  set_cwd(dir);
  free(dir);
  if (print) fdprintf(fds[1], "%s\n", cur_dir);
  return 0;
}

static int bi_pwd(int argc, char **argv, const int *fds) {
  bool phys = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-P")) phys = true;
    else if (!strcmp(argv[i], "-L")) phys = false;
    else {
      fdprintf(fds[2], "sh: pwd: invalid option: %s\n", argv[i]);
      return 2;
    }
  }
  if (phys) {
    char *p = path_physical("/", cur_dir);
    if (!p) {
      fdprintf(fds[2], "sh: pwd: %s\n", errstr(errno));
      return 1;
    }
    fdprintf(fds[1], "%s\n", p);
    free(p);
  } else fdprintf(fds[1], "%s\n", cur_dir);
  return 0;
}

/** Writes a value in single quotes, as `export -p` and `set` print them. */
static void print_quoted(struct sbuf *o, const char *v) {
  sb_addc(o, '\'');
  for (; *v; v++) {
    if (*v == '\'') sb_adds(o, "'\\''");
    else sb_addc(o, *v);
  }
  sb_addc(o, '\'');
}

static int cmp_var(const void *a, const void *b) {
  return strcmp((*(struct var *const *)a)->name, (*(struct var *const *)b)->name);
}

static void print_vars(int fd, bool only_exported, const char *prefix) {
  int n = 0;
  for (struct var *v = vars; v; v = v->next) n++;
  struct var **all = xmalloc(sizeof *all * (size_t)(n + 1));
  n = 0;
  for (struct var *v = vars; v; v = v->next)
    if (!only_exported || v->exported) all[n++] = v;
  qsort(all, (size_t)n, sizeof *all, cmp_var);
  struct sbuf o = {0};
  for (int i = 0; i < n; i++) {
    sb_adds(&o, prefix);
    sb_adds(&o, all[i]->name);
    if (all[i]->value) {
      sb_addc(&o, '=');
      print_quoted(&o, all[i]->value);
    }
    sb_addc(&o, '\n');
  }
  if (o.s) fdputs(fd, o.s);
  free(o.s);
  free(all);
}

static int bi_export(int argc, char **argv, const int *fds) {
  int i = 1;
  if (i < argc && !strcmp(argv[i], "-p")) i++;
  if (i >= argc) {
    print_vars(fds[1], true, "export ");
    return 0;
  }
  int rc = 0;
  for (; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    if (!valid_name(argv[i], n)) {
      fdprintf(fds[2], "sh: export: %s: bad variable name\n", argv[i]);
      rc = 1;
      continue;
    }
    char *name = strndup(argv[i], n);
    if (!name) oom();
    setvar(name, eq ? eq + 1 : NULL, 1);
    free(name);
  }
  return rc;
}

static int bi_unset(int argc, char **argv, const int *fds) {
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v")) continue;
    if (!valid_name(argv[i], strlen(argv[i]))) {
      fdprintf(fds[2], "sh: unset: %s: bad variable name\n", argv[i]);
      rc = 1;
      continue;
    }
    unsetvar(argv[i]);
  }
  return rc;
}

static bool parse_int(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < 0 || v > INT_MAX) return false;
  *out = (int)v;
  return true;
}

static int bi_exit(int argc, char **argv, const int *fds) {
  int status = last_status;
  if (argc > 1 && !parse_int(argv[1], &status)) {
    fdprintf(fds[2], "sh: exit: Illegal number: %s\n", argv[1]);
    status = 2;
  }
  sh_exit(status & 255);
  return status;
}

static void set_params(int n, char **v) {
  for (int i = 0; i < nparams; i++) free(params[i]);
  free(params);
  params = xmalloc(sizeof(char *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) params[i] = xstrdup(v[i]);
  nparams = n;
}

static int bi_set(int argc, char **argv, const int *fds) {
  if (argc == 1) {
    print_vars(fds[1], false, "");
    return 0;
  }
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      set_params(argc - i, argv + i);
      return 0;
    }
    if ((a[0] != '-' && a[0] != '+') || !a[1]) break;
    bool on = a[0] == '-';
    for (const char *p = a + 1; *p; p++) {
      if (*p == 'e') opt_e = on;
      else if (*p == 'x') opt_x = on;
      else {
        fdprintf(fds[2], "sh: set: illegal option %c%c\n", a[0], *p);
        return 2;
      }
    }
  }
  if (i < argc) set_params(argc - i, argv + i);
  return 0;
}

static int bi_shift(int argc, char **argv, const int *fds) {
  int n = 1;
  if (argc > 1 && !parse_int(argv[1], &n)) {
    fdprintf(fds[2], "sh: shift: Illegal number: %s\n", argv[1]);
    return 2;
  }
  if (n > nparams) {
    fdprintf(fds[2], "sh: shift: can't shift that many\n");
    return 1;
  }
  for (int i = 0; i < n; i++) free(params[i]);
  memmove(params, params + n, sizeof(char *) * (size_t)(nparams - n));
  nparams -= n;
  return 0;
}

static int read_file(const char *path, char **buf, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return EISDIR;
  }
  size_t cap = 4096, n = 0;
  char *b = xmalloc(cap + 1);
  for (;;) {
    if (n == cap) b = xrealloc(b, (cap *= 2) + 1);
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      free(b);
      return e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  b[n] = 0;
  *buf = b;
  *len = n;
  return 0;
}

static int bi_dot(int argc, char **argv, const int *fds) {
  if (argc < 2) {
    fdprintf(fds[2], "sh: %s: filename argument required\n", argv[0]);
    return 2;
  }
  const char *name = argv[1];
  char *path = NULL;
  int why;
  if (strchr(name, '/')) path = path_normalize(cur_dir, name);
  else path = find_command(name, &why);
  if (!path) path = path_normalize(cur_dir, name);
  char *buf;
  size_t len;
  int e = read_file(path, &buf, &len);
  free(path);
  if (e) {
    fdprintf(fds[2], "sh: %s: %s: %s\n", argv[0], name, errstr(e));
    return 1;
  }
  char **saved = NULL;
  int nsaved = -1;
  if (argc > 2) {
    saved = params, nsaved = nparams;
    params = NULL, nparams = 0;
    set_params(argc - 2, argv + 2);
  }
  int rc = run_source(buf, len, -1, false, name);
  if (nsaved >= 0) {
    set_params(0, NULL);
    free(params);
    params = saved, nparams = nsaved;
  }
  free(buf);
  return rc;
}

static builtin_fn find_builtin(const char *name);

static int bi_type(int argc, char **argv, const int *fds) {
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (find_builtin(argv[i])) {
      fdprintf(fds[1], "%s is a shell builtin\n", argv[i]);
      continue;
    }
    int why;
    char *p = find_command(argv[i], &why);
    if (p) {
      fdprintf(fds[1], "%s is %s\n", argv[i], p);
      free(p);
    } else {
      fdprintf(fds[2], "sh: type: %s: not found\n", argv[i]);
      rc = 1;
    }
  }
  return rc;
}

static const struct {
  const char *name;
  builtin_fn fn;
} BUILTINS[] = {
    {":", bi_true},        {".", bi_dot},         {"cd", bi_cd},       {"exit", bi_exit},
    {"export", bi_export}, {"false", bi_false},   {"pwd", bi_pwd},     {"set", bi_set},
    {"shift", bi_shift},   {"source", bi_dot},    {"true", bi_true},   {"type", bi_type},
    {"unset", bi_unset},
};

static builtin_fn find_builtin(const char *name) {
  for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
    if (!strcmp(BUILTINS[i].name, name)) return BUILTINS[i].fn;
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Running commands

static char *self_path(void) {
  int why;
  char *p = find_command(self_name, &why);
  return p ? p : xstrdup("/bin/sh");
}

/** Runs a program through wasmbox.spawn; returns its status (127/126 with a message if it cannot run). */
static int spawn_program(const char *shown, const char *path, char **argv, int argc, struct strv *env, const int *fds, bool script_fallback) {
  struct sbuf ab = {0}, eb = {0};
  for (int i = 0; i < argc; i++) sb_add(&ab, argv[i], strlen(argv[i]) + 1);
  for (int i = 0; i < env->n; i++) sb_add(&eb, env->v[i], strlen(env->v[i]) + 1);
  int status = 0;
  int e = wasmbox_spawn(path, strlen(path), ab.s ? ab.s : "", ab.len, (size_t)argc, eb.s ? eb.s : "", eb.len,
                        (size_t)env->n, cur_dir, strlen(cur_dir), fds, &status);
  free(ab.s), free(eb.s);
  if (e == 0) return status;
  if (e == ENOEXEC && script_fallback) {
    // not WebAssembly: run it as a shell script, as POSIX shells do (unless it looks binary)
    char head[256];
    ssize_t n = -1;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) n = read(fd, head, sizeof head), close(fd);
    if (n > 0 && memchr(head, 0, (size_t)n)) {
      fdprintf(2, "sh: %s: cannot execute binary file\n", shown);
      return 126;
    }
    char *sh = self_path();
    char **nargv = xmalloc(sizeof(char *) * (size_t)(argc + 2));
    nargv[0] = (char *)self_name;
    nargv[1] = strchr(shown, '/') ? (char *)shown : (char *)path;
    for (int i = 1; i < argc; i++) nargv[i + 1] = argv[i];
    int rc = spawn_program(shown, sh, nargv, argc + 1, env, fds, false);
    free(nargv);
    free(sh);
    return rc;
  }
  if (e == ENOENT) {
    fdprintf(2, "sh: %s: not found\n", shown);
    return 127;
  }
  fdprintf(2, "sh: %s: %s\n", shown, errstr(e));
  return 126;
}

/** Opens the redirections of a command into fds[0..2]; the opened fds go to `opened`. */
static bool apply_redirs(struct redir *r, int *fds, int *opened, int *nopened) {
  for (; r; r = r->next) {
    if (r->kind == R_DUPOUT || r->kind == R_DUPIN) {
      fds[r->fd] = fds[r->target->segs->text[0] - '0'];
      continue;
    }
    char *t = expand_string(r->target);
    char *path = path_normalize(cur_dir, t);
    int flags = r->kind == R_IN ? O_RDONLY : r->kind == R_OUT ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT | O_APPEND;
    int fd = t[0] ? open(path, flags, 0666) : -1;
    int e = t[0] ? errno : ENOENT;
    if (fd >= 0 && r->kind == R_IN) {
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        fd = -1;
        e = EISDIR;
      }
    }
    free(path);
    if (fd < 0) {
      fdprintf(2, "sh: %s: %s\n", t, errstr(e));
      free(t);
      return false;
    }
    free(t);
    opened[(*nopened)++] = fd;
    fds[r->fd] = fd;
  }
  return true;
}

static void trace(struct strv *assigns, struct strv *argv) {
  struct sbuf o = {0};
  sb_adds(&o, "+");
  for (int i = 0; i < assigns->n; i++) sb_addc(&o, ' '), sb_adds(&o, assigns->v[i]);
  for (int i = 0; i < argv->n; i++) sb_addc(&o, ' '), sb_adds(&o, argv->v[i]);
  sb_addc(&o, '\n');
  fdputs(2, o.s);
  free(o.s);
}

static int run_cmd(struct cmd *c) {
  struct strv argv = {0}, assigns = {0};
  int status = 0;
  if (!expand_words(c->args, &argv)) {
    sv_free(&argv);
    return 1;
  }
  for (struct word *w = c->assigns; w; w = w->next) {
    char *v = expand_string(w);
    sv_push(&assigns, v);
  }
  if (opt_x && (argv.n || assigns.n)) trace(&assigns, &argv);
  int fds[3] = {0, 1, 2}, opened[64], nopened = 0;
  int nredirs = 0;
  for (struct redir *r = c->redirs; r; r = r->next) nredirs++;
  if (nredirs > 64 || !apply_redirs(c->redirs, fds, opened, &nopened)) {
    status = 1;
    goto done;
  }
  if (argv.n == 0) {
    // assignments alone set shell variables (exported ones stay exported)
    for (int i = 0; i < assigns.n; i++) {
      char *eq = strchr(assigns.v[i], '=');
      *eq = 0;
      setvar(assigns.v[i], eq + 1, -1);
      *eq = '=';
    }
    status = 0;
    goto done;
  }
  builtin_fn bi = find_builtin(argv.v[0]);
  if (bi) {
    // prefix assignments last for the builtin only
    struct strv saved = {0};
    for (int i = 0; i < assigns.n; i++) {
      char *eq = strchr(assigns.v[i], '=');
      *eq = 0;
      struct var *v = findvar(assigns.v[i]);
      sv_push(&saved, xstrdup(assigns.v[i]));
      sv_push(&saved, v && v->value ? xstrdup(v->value) : NULL);
      setvar(assigns.v[i], eq + 1, -1);
      *eq = '=';
    }
    status = bi(argv.n, argv.v, fds);
    for (int i = 0; i + 1 < saved.n; i += 2) {
      if (saved.v[i + 1]) setvar(saved.v[i], saved.v[i + 1], -1);
      else unsetvar(saved.v[i]);
    }
    sv_free(&saved);
    goto done;
  }
  int why;
  char *path = find_command(argv.v[0], &why);
  if (!path) {
    if (why == ENOENT || why == ENOTDIR) {
      fdprintf(2, "sh: %s: not found\n", argv.v[0]);
      status = 127;
    } else {
      fdprintf(2, "sh: %s: %s\n", argv.v[0], errstr(why));
      status = 126;
    }
    goto done;
  }
  // the environment: exported variables, with the command's own assignments on top
  struct strv env = {0};
  for (struct var *v = vars; v; v = v->next) {
    if (!v->exported || !v->value) continue;
    bool overridden = false;
    for (int i = 0; i < assigns.n; i++) {
      size_t n = strlen(v->name);
      if (!strncmp(assigns.v[i], v->name, n) && assigns.v[i][n] == '=') overridden = true;
    }
    if (overridden) continue;
    char *kv = xmalloc(strlen(v->name) + strlen(v->value) + 2);
    sprintf(kv, "%s=%s", v->name, v->value);
    sv_push(&env, kv);
  }
  for (int i = 0; i < assigns.n; i++) sv_push(&env, xstrdup(assigns.v[i]));
  status = spawn_program(argv.v[0], path, argv.v, argv.n, &env, fds, true);
  sv_free(&env);
  free(path);
done:
  for (int i = 0; i < nopened; i++) close(opened[i]);
  sv_free(&argv);
  sv_free(&assigns);
  return status;
}

/** Runs a parsed command line; with -e, exits when a list fails. */
static void run_list(struct andor *l) {
  for (; l; l = l->next) {
    struct cmd *ran = NULL, *last = NULL;
    for (struct cmd *c = l->cmds; c; c = c->next) {
      last = c;
      if (c->conn == C_AND && last_status != 0) continue;
      if (c->conn == C_OR && last_status == 0) continue;
      int st = run_cmd(c);
      if (c->bang) st = st == 0 ? 1 : 0;
      last_status = st;
      ran = c;
    }
    if (opt_e && last_status != 0 && ran == last && !ran->bang) sh_exit(last_status);
  }
}

static void sh_exit(int status) {
  exit(status);
}

// ---------------------------------------------------------------------------------------------
// Reading input: a whole buffer (file, -c), or lines from an fd (stdin, a terminal)

struct source {
  struct sbuf b;
  size_t pos;
  int fd;
  bool interactive, eof;
  int lineno;
};

/** Appends one more line from the fd; false at the end of input. Byte by byte, so that commands
 *  the shell runs read the rest of the input themselves. */
static bool src_more(struct source *s, bool continuation) {
  if (s->fd < 0 || s->eof) return false;
  if (s->interactive) {
    const char *ps = continuation ? getvar("PS2") : getvar("PS1");
    fdputs(2, ps ? ps : continuation ? "> " : "$ ");
  }
  bool any = false;
  for (;;) {
    char c;
    ssize_t r = read(s->fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      s->eof = true;
      if (s->interactive && !any) fdputs(2, "\n");
      return any;
    }
    any = true;
    sb_addc(&s->b, c);
    if (c == '\n') return true;
  }
}

static int run_source_s(struct source *s, const char *name) {
  (void)name;
  for (;;) {
    if (s->pos >= s->b.len) {
      if (s->fd < 0) break;
      s->b.len = 0, s->pos = 0;
      if (s->b.s) s->b.s[0] = 0;
      if (!src_more(s, false)) break;
    }
    struct mark m = amark();
    size_t start = s->pos;
    int startline = s->lineno;
    struct andor *list;
    bool at_eof;
    for (;;) {
      memset(&P, 0, sizeof P);
      P.buf = s->b.s, P.len = s->b.len, P.pos = start, P.lineno = startline;
      P.final = s->fd < 0 || s->eof;
      list = parse_line(&at_eof);
      if (!P.more) break;
      arelease(m);
      if (!src_more(s, true)) s->eof = true;
    }
    s->lineno = P.lineno;
    if (P.error) {
      if (s->interactive) err("%s\n", P.error);
      else err("line %d: %s\n", P.tline ? P.tline : startline, P.error);
      arelease(m);
      last_status = 2;
      if (!s->interactive) return 2;
      s->pos = s->b.len;  // drop the rest of the line
      continue;
    }
    s->pos = P.pos;
    if (opt_n) print_list(list);
    else run_list(list);
    arelease(m);
    if (at_eof && s->fd < 0) break;
  }
  return last_status;
}

static int run_source(char *buf, size_t len, int fd, bool interactive, const char *name) {
  struct source s = {{0}, 0, fd, interactive, false, 1};
  if (buf) sb_add(&s.b, buf, len);
  int rc = run_source_s(&s, name);
  free(s.b.s);
  return rc;
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
  const char *pwd = getenv("PWD");
  if (pwd && *pwd) chdir(pwd);
  for (char **e = environ; e && *e; e++) {
    char *eq = strchr(*e, '=');
    if (!eq) continue;
    char *name = strndup(*e, (size_t)(eq - *e));
    if (!name) oom();
    if (valid_name(name, strlen(name))) setvar(name, eq + 1, 1);
    free(name);
  }
  cur_dir = pwd && pwd[0] == '/' ? path_normalize("/", pwd) : xstrdup("/");
  setvar("PWD", cur_dir, 1);
  {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t r = 0;
    if (getentropy(&r, sizeof r) != 0) r = (uint32_t)ts.tv_nsec;
    shell_id = 1000 + r % 30000;
  }
  if (argc > 0 && argv[0][0]) self_name = argv[0];

  const char *command = NULL;
  int i = 1;
  bool force_i = false;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fdputs(1, USAGE);
      return 0;
    }
    if ((a[0] != '-' && a[0] != '+') || !a[1]) break;
    bool on = a[0] == '-';
    for (const char *p = a + 1; *p; p++) {
      switch (*p) {
      case 'c':
        if (!on) goto bad;
        if (i + 1 >= argc) {
          err("-c requires an argument\n");
          return 2;
        }
        command = argv[++i];
        break;
      case 'e': opt_e = on; break;
      case 'x': opt_x = on; break;
      case 'n': opt_n = on; break;
      case 'i': force_i = on; break;
      case 's': break;
      default:
      bad:
        err("invalid option -- '%c'\n", *p);
        fdputs(2, USAGE);
        return 2;
      }
    }
  }
  if (command) {
    if (i < argc) arg0 = argv[i++];
    set_params(argc - i, argv + i);
    return run_source((char *)command, strlen(command), -1, false, "-c");
  }
  if (i < argc) {
    const char *script = argv[i];
    arg0 = argv[i++];
    set_params(argc - i, argv + i);
    char *buf;
    size_t len;
    char *path = path_normalize(cur_dir, script);
    int e = read_file(path, &buf, &len);
    free(path);
    if (e) {
      err("cannot open %s: %s\n", script, errstr(e));
      return 127;
    }
    int rc = run_source(buf, len, -1, false, script);
    free(buf);
    return rc;
  }
  set_params(0, NULL);
  opt_i = force_i || (isatty(0) && isatty(2));
  return run_source(NULL, 0, 0, opt_i, "stdin");
}
