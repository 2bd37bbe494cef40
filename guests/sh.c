// sh: the small shell of wasmbox (issue 7). Reads commands from -c STRING, a script file, or stdin
// (with a "$ " prompt on stderr when stdin and stderr are terminals, or with -i), and runs them.
//
// Supported:
//   - simple commands with assignments (`A=1 cmd` for one command, `A=1` for the shell) and
//     redirections: `<`, `>`, `>|`, `>>`, `N<`, `N>`, `N>>` (N = 0, 1 or 2), `N>&M`, `N<&M`,
//     here-documents `<<WORD` and `<<-WORD` (a quoted WORD: no expansion in the body);
//   - quoting: '...', "..." (with \$ \` \" \\ and \newline), backslash; comments (#);
//   - pipelines `a | b | c` and `! pipeline`; lists: `;`, `&` (background; `wait`, `$!`),
//     newlines, `&&`, `||`;
//   - compound commands: `if/elif/else/fi`, `while`, `until`, `for NAME [in WORDS]`, `case` with
//     glob patterns and `|`, `( subshell )`, `{ group; }`, each with redirections; functions
//     `NAME() compound-command` with `return` and `local`;
//   - expansions: $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w} ${NAME+w} ${NAME:=w} ${NAME=w}
//     ${NAME:?w} ${NAME?w} ${#NAME}, $? $# $0..$9 $@ "$@" $* $$ $! $- , ~ and ~/ (HOME),
//     $(...) and `...`, arithmetic $((...)) (sh_arith.h); unquoted expansions are split on IFS
//     (whitespace only) and glob patterns (* ? [...]) are expanded;
//   - builtins: cd [-|DIR], pwd [-LP], export [-p] [NAME[=V]]..., unset NAME..., exit [N],
//     set [-ex] [+ex] [-- ARG...], shift [N], . FILE / source FILE, type NAME..., :, true, false,
//     break [N], continue [N], return [N], local, eval, read [-r], trap (EXIT), wait, exec;
//   - scripts: `sh FILE [ARG...]`, `sh -c 'CMD' [NAME [ARG...]]`, commands on stdin;
//   - options: -c, -e (exit on error), -x (trace to stderr), -i (interactive), -n (parse only);
//   - exit status: that of the last command; 127 command not found, 126 cannot run, 2 syntax error
//     or failed expansion.
// How things run: WASI has no fork. External commands run through the host's wasmbox.start/spawn
// (guests/wasmbox.h); a pipeline's programs are started together, joined by wasmbox.pipe pipes,
// and run side by side when the host runs guests suspendable (JSPI), else one after another with
// each pipe holding what its writer wrote. A subshell, a $(...), a builtin stage and the last
// stage run in this shell with its state saved and put back afterwards. What must run beside the
// shell (a compound or function stage before the last, a compound command with `&`) runs in a
// child shell that is given the shell's state as text (run_in_child).
// Not supported: fds above 2 in redirections, `<>`, aliases, job control, signals (`trap` takes
// only EXIT; others are accepted and never fire: WASI has no signals), getopts, the `function`
// keyword. Differences from POSIX sh: IFS splitting treats every IFS character as white space; $$
// is a random number fixed for the shell's life and $! a wasmbox handle (WASI has no process ids);
// a syntax error ends a non-interactive shell with status 2 after the lines before it have run.
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
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasmbox.h"
#include "sh_arith.h"

extern char **environ;

static const char *USAGE =
    "Usage: sh [-neix] [-c COMMAND [NAME [ARG...]] | SCRIPT [ARG...]]\n"
    "The wasmbox shell: pipelines, ; & && || !, if/while/until/for/case, ( ) and { }, functions,\n"
    "redirections (< > >> 2>&1 <<), $VAR ${VAR...} $(...) `...` $((...)) expansion, globs, builtins\n"
    "(cd pwd export unset exit set shift . type break continue return local eval read trap wait exec).\n";

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
#include "echo.h"

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

// The shell's fds 0-2 as the command being run sees them: redirections of a compound command, a
// pipeline's pipes and $(...) change them for what runs inside.
static int io[3] = {0, 1, 2};

#define err(...) fdprintf(io[2], "sh: " __VA_ARGS__)

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
static int last_bg;          // $!: the handle of the last background command

/** Unwinding after break, continue, return, or exit in a subshell. */
// U_INTR: an interactive shell's foreground command was stopped by Ctrl-C; the rest of the line is dropped
enum { U_NONE, U_BREAK, U_CONTINUE, U_RETURN, U_EXIT, U_INTR };
static int unwinding, unwind_levels, unwind_status;
static int loop_depth, func_depth, sub_depth, dot_depth, cond_depth;
static int cmdsub_status = -1;  // the status of the last command substitution of a command
static char *exit_trap;


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
  if (!strcmp(name, "!")) {
    if (!last_bg) return "";
    return snprintf(buf, sizeof buf, "%d", last_bg), buf;
  }
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

enum { S_LIT, S_QLIT, S_VAR, S_QVAR, S_CMDSUB, S_ARITH };

struct word;
struct node;
struct seg {
  int kind;
  char *text;         // literal text, or the variable name
  char op;            // for ${NAME op word}: 0, '-', '=', '+', '?', or '#' for ${#NAME}
  bool colon;         // ${NAME:-word} etc.
  bool q;             // S_CMDSUB, S_ARITH: inside double quotes (not split)
  struct word *alt;   // the word of ${NAME op word}; S_ARITH: the expression
  struct node *sub;   // S_CMDSUB: the commands of $(...) or `...`
  struct seg *next;
  size_t len, cap;    // a literal being built: its length, and the room in `text` (wb_seg)
};

struct word {
  struct seg *segs;
  struct word *next;
};

enum { R_IN, R_OUT, R_APPEND, R_DUPOUT, R_DUPIN, R_HEREDOC };

struct redir {
  int fd, kind;
  struct word *target;  // R_HEREDOC: the body (quoted delimiter: one literal segment)
  struct redir *next;
};

// Commands. A list `a; b` is N_SEQ, `a && b` N_AND, `a || b` N_OR (both left-associative), a
// pipeline N_PIPE with its stages chained through `next`.
enum { N_CMD, N_PIPE, N_AND, N_OR, N_NOT, N_SEQ, N_BG, N_IF, N_WHILE, N_UNTIL, N_FOR, N_CASE, N_SUB, N_GROUP, N_FUNC };

struct caseitem {
  struct word *pats;
  struct node *body;
  struct caseitem *next;
};

struct node {
  int type, lineno;
  struct word *assigns, *args;  // N_CMD; N_FOR: the words after `in`; N_CASE: the subject (args)
  struct redir *redirs;         // N_CMD, and the redirections after a compound command
  struct node *a, *b, *c;       // operands: cond/then/else, cond/body, the body of ( ), { }, a function
  struct node *next;            // the next stage of a pipeline
  char *name;                   // N_FOR: the variable; N_FUNC: the function's name
  bool has_in;                  // N_FOR: `in` was given (else "$@")
  struct caseitem *items;       // N_CASE
  char *src;                    // N_FUNC: the definition's text, parsed again to keep it
  char *job_src;                // a pipeline's stage but the last, N_BG: its text, to run in a child shell
};

// ---------------------------------------------------------------------------------------------
// Lexer and parser. They work on a buffer that may grow (more lines from stdin or a terminal):
// when the input ends inside a construct, `more` is set and the caller reads another line and
// parses the whole command line again (unless `final`, when it is a syntax error).

enum { T_WORD, T_NEWLINE, T_SEMI, T_AND, T_OR, T_REDIR, T_BANG, T_EOF, T_ERR, T_PIPE, T_AMP, T_LPAREN, T_RPAREN, T_DSEMI };

enum { MAX_HEREDOCS = 16 };

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
  bool trstrip;      // <<- : leading tabs are stripped from the here-document
  size_t tstart;
  int tline;
  // here-documents whose bodies follow the next newline
  int nhd;
  struct redir *hd[MAX_HEREDOCS];
  char *hdelim[MAX_HEREDOCS];
  bool hquoted[MAX_HEREDOCS], hstrip[MAX_HEREDOCS];
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
static void lex_backquote(struct wb *b, bool quoted);
static struct node *parse_list(void);
static struct node *parse_text(const char *text, size_t n);
static int peek(void);
static void consume(void);
static void unexpected(int t);

/** Appends a segment that is not text (a command substitution, an arithmetic expansion). */
static struct seg *wb_special(struct wb *b, int kind, bool quoted) {
  struct seg *s = aalloc(sizeof *s);
  s->kind = kind;
  s->text = "";
  s->q = quoted;
  if (b->last) b->last->next = s;
  else b->w->segs = s;
  b->last = s;
  b->any = true;
  return s;
}

/**
 * Text lexed as the inside of double quotes, except that '"' is an ordinary character: a
 * here-document's body, or the expression of $((...)). Nested, on a buffer of its own.
 */
static struct word *lex_text(const char *text, size_t n) {
  const char *buf = P.buf;
  size_t len = P.len, pos = P.pos;
  int lineno = P.lineno;
  P.buf = text, P.len = n, P.pos = 0;
  struct word *w = aalloc(sizeof *w);
  struct wb b = {w, NULL, false};
  wb_seg(&b, S_QLIT, "", 0);
  while (!at_end() && !P.error && !P.more) {
    char d = P.buf[P.pos];
    if (d == '$') {
      lex_dollar(&b, true);
      continue;
    }
    if (d == '`') {
      lex_backquote(&b, true);
      continue;
    }
    if (d == '\\' && P.pos + 1 < P.len && strchr("$`\\\n", P.buf[P.pos + 1])) {
      if (P.buf[P.pos + 1] != '\n') wb_seg(&b, S_QLIT, P.buf + P.pos + 1, 1);
      P.pos += 2;
      continue;
    }
    wb_seg(&b, S_QLIT, &d, 1);
    P.pos++;
  }
  if (P.more) {
    // the text is all there is: what is open in it stays open
    P.more = false;
    syntax("unterminated construct in a here-document or $((...))");
  }
  P.buf = buf, P.len = len, P.pos = pos, P.lineno = lineno;
  return w;
}

/** $( commands ): parsed here, up to the matching ')'. P.pos is just after "$(". */
static void lex_cmdsub(struct wb *b, bool quoted) {
  size_t ts = P.tstart;
  int tl = P.tline;
  struct node *n = parse_list();
  if (!P.error && !P.more) {
    if (peek() == T_RPAREN) consume();
    else unexpected(peek());
  }
  P.tstart = ts, P.tline = tl;
  if (P.error || P.more) return;
  wb_special(b, S_CMDSUB, quoted)->sub = n;
}

/** $(( expression )): the text up to the matching "))". P.pos is just after "$((". */
static void lex_arith(struct wb *b, bool quoted) {
  size_t start = P.pos;
  int depth = 0;
  for (;;) {
    if (at_end()) {
      incomplete("missing '))'");
      return;
    }
    char c = P.buf[P.pos];
    if (c == '(') depth++;
    else if (c == ')') {
      if (depth == 0) {
        if (P.pos + 1 >= P.len) {
          incomplete("missing '))'");
          return;
        }
        if (P.buf[P.pos + 1] != ')') {
          syntax("missing '))'");
          return;
        }
        break;
      }
      depth--;
    } else if (c == '\n') P.lineno++;
    P.pos++;
  }
  struct word *expr = lex_text(P.buf + start, P.pos - start);
  P.pos += 2;
  if (P.error) return;
  wb_special(b, S_ARITH, quoted)->alt = expr;
}

/** `commands`: the text up to the closing backquote, with \` \\ \$ unescaped, parsed on its own. */
static void lex_backquote(struct wb *b, bool quoted) {
  P.pos++;
  struct sbuf t = {0};
  sb_add(&t, "", 0);
  for (;;) {
    if (at_end()) {
      free(t.s);
      incomplete("unterminated `...`");
      return;
    }
    char c = P.buf[P.pos];
    if (c == '`') {
      P.pos++;
      break;
    }
    if (c == '\\' && P.pos + 1 < P.len) {
      char d = P.buf[P.pos + 1];
      if (d == '`' || d == '\\' || d == '$' || (quoted && d == '"')) {
        sb_addc(&t, d);
        P.pos += 2;
        continue;
      }
    }
    if (c == '\n') P.lineno++;
    sb_addc(&t, c);
    P.pos++;
  }
  struct node *n = parse_text(t.s, t.len);
  free(t.s);
  if (P.error) return;
  wb_special(b, S_CMDSUB, quoted)->sub = n;
}

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
      lex_backquote(&b, quoted);
      if (P.error || P.more) return NULL;
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
    if (P.pos + 1 < P.len && P.buf[P.pos + 1] == '(') {
      P.pos += 2;
      lex_arith(b, quoted);
    } else {
      P.pos++;
      lex_cmdsub(b, quoted);
    }
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
          lex_backquote(&b, true);
          if (P.error || P.more) return NULL;
          continue;
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
      lex_backquote(&b, false);
      if (P.error || P.more) return NULL;
      continue;
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

/**
 * Reads the bodies of the here-documents of the line just ended (P.pos is after its newline), each
 * up to its delimiter line. A body the input ends in is taken as it is when no more input can come.
 */
static void read_heredocs(void) {
  for (int i = 0; i < P.nhd; i++) {
    struct sbuf body = {0};
    sb_add(&body, "", 0);
    const char *delim = P.hdelim[i];
    size_t dlen = strlen(delim);
    bool found = false;
    while (!at_end()) {
      size_t ls = P.pos;
      const char *nl = memchr(P.buf + ls, '\n', P.len - ls);
      if (!nl && !P.final) break;  // the line is not all there yet
      size_t le = nl ? (size_t)(nl - P.buf) : P.len;
      size_t st = ls;
      if (P.hstrip[i])
        while (st < le && P.buf[st] == '\t') st++;
      P.pos = nl ? le + 1 : le;
      P.lineno++;
      if (le - st == dlen && !memcmp(P.buf + st, delim, dlen)) {
        found = true;
        break;
      }
      sb_add(&body, P.buf + st, le - st);
      sb_addc(&body, '\n');
    }
    if (!found && !P.final) {
      free(body.s);
      incomplete("");
      return;
    }
    struct word *w;
    if (P.hquoted[i]) {
      w = aalloc(sizeof *w);
      struct wb b = {w, NULL, false};
      wb_seg(&b, S_QLIT, body.s, body.len);
    } else {
      w = lex_text(body.s, body.len);
    }
    free(body.s);
    P.hd[i]->target = w;
  }
  P.nhd = 0;
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
    if (P.nhd) read_heredocs();
    P.tt = (P.error || P.more) ? T_ERR : T_NEWLINE;
    return;
  case ';':
    P.pos += n == ';' ? 2 : 1;
    P.tt = n == ';' ? T_DSEMI : T_SEMI;
    return;
  case '&':
    P.pos += n == '&' ? 2 : 1;
    P.tt = n == '&' ? T_AND : T_AMP;
    return;
  case '|':
    P.pos += n == '|' ? 2 : 1;
    P.tt = n == '|' ? T_OR : T_PIPE;
    return;
  case '(':
    P.pos++;
    P.tt = T_LPAREN;
    return;
  case ')':
    P.pos++;
    P.tt = T_RPAREN;
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
    P.trstrip = false;
    if (r == '<' && r2 == '<') {
      kind = R_HEREDOC, len = 2;
      if (k + 2 < P.len && P.buf[k + 2] == '-') P.trstrip = true, len = 3;
      if (fd < 0) fd = 0;
    } else if (r == '<') {
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
  case T_PIPE: return "'|'";
  case T_AMP: return "'&'";
  case T_LPAREN: return "'('";
  case T_RPAREN: return "')'";
  case T_DSEMI: return "';;'";
  default: return "word";
  }
}

static void unexpected(int t) {
  if (t == T_ERR) return;  // already reported (or more input is needed)
  if (t == T_EOF && !P.final) {
    P.more = true;
    return;
  }
  struct seg *s = t == T_WORD && P.tw ? P.tw->segs : NULL;
  if (s && !s->next && s->kind == S_LIT) syntax("syntax error: unexpected '%s'", s->text);
  else syntax("syntax error: unexpected %s", token_name(t));
}

/** Is this word an assignment NAME=...? (its first segment is unquoted text with NAME=) */
static bool is_assignment(struct word *w) {
  struct seg *s = w->segs;
  if (!s || s->kind != S_LIT) return false;
  const char *eq = strchr(s->text, '=');
  return eq && valid_name(s->text, (size_t)(eq - s->text));
}

/** The word's text if it is one unquoted literal (a reserved word, a function's name), else NULL. */
static const char *plain(struct word *w) {
  struct seg *s = w ? w->segs : NULL;
  return s && !s->next && s->kind == S_LIT ? s->text : NULL;
}

/** Is the next token the reserved word `w`? */
static bool is_word(const char *w) {
  if (peek() != T_WORD) return false;
  const char *t = plain(P.tw);
  return t && !strcmp(t, w);
}

/** Does the next token end a compound list (a reserved word or token that closes a construct)? */
static bool at_terminator(void) {
  int t = peek();
  if (t == T_EOF || t == T_RPAREN || t == T_DSEMI || t == T_ERR) return true;
  if (t != T_WORD) return false;
  static const char *const ends[] = {"then", "else", "elif", "fi", "do", "done", "esac", "}"};
  for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
    if (is_word(ends[i])) return true;
  return false;
}

static void linebreak(void) {
  while (peek() == T_NEWLINE) consume();
}

/** Consumes the reserved word `w`, or reports what came instead. */
static bool expect_word(const char *w) {
  if (is_word(w)) {
    consume();
    return true;
  }
  unexpected(peek());
  return false;
}

static bool expect(int t) {
  if (peek() == t) {
    consume();
    return true;
  }
  unexpected(peek());
  return false;
}

static struct node *mknode(int type) {
  struct node *n = aalloc(sizeof *n);
  n->type = type;
  n->lineno = P.tline ? P.tline : P.lineno;
  return n;
}

static struct node *seq(struct node *a, struct node *b) {
  if (!a) return b;
  struct node *n = mknode(N_SEQ);
  n->a = a, n->b = b;
  return n;
}

/** One redirection (the T_REDIR token was peeked); a here-document waits for its body. */
static struct redir *parse_redir(void) {
  consume();
  struct redir *r = aalloc(sizeof *r);
  r->fd = P.trfd;
  r->kind = P.trkind;
  bool strip = P.trstrip;
  int t2 = peek();
  if (t2 != T_WORD) {
    unexpected(t2);
    return NULL;
  }
  consume();
  r->target = P.tw;
  if (r->kind == R_DUPOUT || r->kind == R_DUPIN) {
    const char *t = plain(r->target);
    if (!t || strlen(t) != 1 || !strchr("012", t[0])) {
      syntax("only N>&M with M = 0, 1 or 2 is supported");
      return NULL;
    }
  }
  if (r->fd > 2) {
    syntax("redirection of fd %d is not supported (only 0, 1 and 2)", r->fd);
    return NULL;
  }
  if (r->kind == R_HEREDOC) {
    if (P.nhd >= MAX_HEREDOCS) {
      syntax("too many here-documents on one line");
      return NULL;
    }
    // the delimiter is the word with its quotes removed; any quoting means a literal body
    struct sbuf d = {0};
    sb_add(&d, "", 0);
    bool quoted = false;
    for (struct seg *s = r->target->segs; s; s = s->next) {
      if (s->kind != S_LIT) quoted = true;
      if (s->kind == S_VAR || s->kind == S_QVAR) sb_addc(&d, '$');
      sb_adds(&d, s->text);
    }
    int i = P.nhd++;
    P.hd[i] = r;
    P.hdelim[i] = astrndup(d.s, d.len);
    P.hquoted[i] = quoted;
    P.hstrip[i] = strip;
    free(d.s);
    r->target = aalloc(sizeof *r->target);  // empty until the body is read
  }
  return r;
}

/** Redirections after a compound command. */
static bool parse_redirs(struct redir **rlast) {
  while (peek() == T_REDIR) {
    struct redir *r = parse_redir();
    if (!r) return false;
    *rlast = r;
    rlast = &r->next;
  }
  return true;
}

static struct node *parse_command(void);

static struct node *parse_simple(void) {
  struct node *c = mknode(N_CMD);
  struct word **alast = &c->assigns, **wlast = &c->args;
  struct redir **rlast = &c->redirs;
  bool any = false;
  for (;;) {
    int t = peek();
    if (t == T_WORD || (t == T_BANG && any)) {
      size_t start = P.tstart;
      consume();
      struct word *w = P.tw;
      if (!any && plain(w) && valid_name(plain(w), strlen(plain(w))) && peek() == T_LPAREN) {
        // NAME ( ) compound-command: a function definition
        consume();
        if (!expect(T_RPAREN)) return NULL;
        linebreak();
        if (P.error || P.more) return NULL;
        struct node *body = parse_command();
        if (!body) return NULL;
        struct node *f = mknode(N_FUNC);
        f->name = astrndup(plain(w), strlen(plain(w)));
        f->a = body;
        size_t end = P.peeked ? P.tstart : P.pos;
        f->src = astrndup(P.buf + start, end - start);
        return f;
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
      struct redir *r = parse_redir();
      if (!r) return NULL;
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

/** A compound list that must not be empty (the body of if, while, ...). */
static struct node *parse_body(void) {
  struct node *n = parse_list();
  if (!n && !P.error && !P.more) unexpected(peek());
  return n;
}

static struct node *parse_if(void) {
  consume();  // if / elif
  struct node *n = mknode(N_IF);
  if (!(n->a = parse_body()) || !expect_word("then") || !(n->b = parse_body())) return NULL;
  if (is_word("elif")) {
    n->c = parse_if();  // takes the closing fi
    return n->c ? n : NULL;
  }
  if (is_word("else")) {
    consume();
    if (!(n->c = parse_body())) return NULL;
  }
  return expect_word("fi") ? n : NULL;
}

static struct node *parse_while(void) {
  struct node *n = mknode(is_word("while") ? N_WHILE : N_UNTIL);
  consume();
  if (!(n->a = parse_body()) || !expect_word("do") || !(n->b = parse_body()) || !expect_word("done")) return NULL;
  return n;
}

static struct node *parse_for(void) {
  consume();
  struct node *n = mknode(N_FOR);
  if (peek() != T_WORD || !plain(P.tw) || !valid_name(plain(P.tw), strlen(plain(P.tw)))) {
    if (peek() == T_WORD) syntax("bad for loop variable");
    else unexpected(peek());
    return NULL;
  }
  consume();
  n->name = astrndup(plain(P.tw), strlen(plain(P.tw)));
  linebreak();
  if (is_word("in")) {
    consume();
    n->has_in = true;
    struct word **last = &n->args;
    while (peek() == T_WORD) {
      consume();
      *last = P.tw;
      last = &P.tw->next;
    }
    if (peek() == T_SEMI || peek() == T_NEWLINE) consume();
    else {
      unexpected(peek());
      return NULL;
    }
  } else if (peek() == T_SEMI) {
    consume();
  }
  linebreak();
  if (!expect_word("do") || !(n->b = parse_body()) || !expect_word("done")) return NULL;
  return n;
}

static struct node *parse_case(void) {
  consume();
  struct node *n = mknode(N_CASE);
  if (peek() != T_WORD) {
    unexpected(peek());
    return NULL;
  }
  consume();
  n->args = P.tw;
  linebreak();
  if (!expect_word("in")) return NULL;
  struct caseitem **last = &n->items;
  for (;;) {
    linebreak();
    if (P.error || P.more) return NULL;
    if (is_word("esac")) {
      consume();
      return n;
    }
    struct caseitem *it = aalloc(sizeof *it);
    if (peek() == T_LPAREN) consume();
    struct word **plast = &it->pats;
    for (;;) {
      if (peek() != T_WORD) {
        unexpected(peek());
        return NULL;
      }
      consume();
      *plast = P.tw;
      plast = &P.tw->next;
      if (peek() != T_PIPE) break;
      consume();
    }
    if (!expect(T_RPAREN)) return NULL;
    it->body = parse_list();
    if (P.error || P.more) return NULL;
    *last = it;
    last = &it->next;
    if (peek() == T_DSEMI) consume();
    else if (!is_word("esac")) {
      unexpected(peek());
      return NULL;
    }
  }
}

static struct node *parse_command(void) {
  struct node *n;
  int t = peek();
  if (t == T_LPAREN) {
    consume();
    n = mknode(N_SUB);
    if (!(n->a = parse_body()) || !expect(T_RPAREN)) return NULL;
  } else if (t == T_WORD && is_word("if")) {
    n = parse_if();
  } else if (t == T_WORD && (is_word("while") || is_word("until"))) {
    n = parse_while();
  } else if (t == T_WORD && is_word("for")) {
    n = parse_for();
  } else if (t == T_WORD && is_word("case")) {
    n = parse_case();
  } else if (t == T_WORD && is_word("{")) {
    consume();
    n = mknode(N_GROUP);
    if (!(n->a = parse_body()) || !expect_word("}")) return NULL;
  } else if (at_terminator()) {
    unexpected(t);
    return NULL;
  } else {
    return parse_simple();
  }
  if (!n || !parse_redirs(&n->redirs)) return NULL;
  return n;
}

static struct node *parse_pipeline(void) {
  bool bang = false;
  if (peek() == T_BANG) {
    consume();
    bang = true;
  }
  peek();
  size_t start = P.tstart;
  struct node *first = parse_command();
  if (!first) return NULL;
  struct node *p = first;
  if (peek() == T_PIPE) {
    p = mknode(N_PIPE);
    p->a = first;
    struct node *last = first;
    while (peek() == T_PIPE) {
      last->job_src = astrndup(P.buf + start, P.tstart - start);
      consume();
      linebreak();
      if (P.error || P.more) return NULL;
      peek();
      start = P.tstart;
      struct node *c = parse_command();
      if (!c) return NULL;
      last->next = c;
      last = c;
    }
  }
  if (!bang) return p;
  struct node *n = mknode(N_NOT);
  n->a = p;
  return n;
}

static struct node *parse_andor(void) {
  struct node *l = parse_pipeline();
  if (!l) return NULL;
  for (;;) {
    int t = peek();
    if (t != T_AND && t != T_OR) break;
    consume();
    linebreak();
    if (P.error || P.more) return NULL;
    struct node *r = parse_pipeline();
    if (!r) return NULL;
    struct node *n = mknode(t == T_AND ? N_AND : N_OR);
    n->a = l, n->b = r;
    l = n;
  }
  return l;
}

/** An and-or list with its separator: `&` puts it in the background. */
static struct node *parse_item(void) {
  peek();
  size_t start = P.tstart;
  struct node *a = parse_andor();
  if (!a) return NULL;
  if (peek() == T_AMP) {
    struct node *bg = mknode(N_BG);
    bg->job_src = astrndup(P.buf + start, P.tstart - start);
    consume();
    bg->a = a;
    return bg;
  }
  if (peek() == T_SEMI) consume();
  return a;
}

/** A compound list: and-or lists separated by ; & or newlines, up to a terminator (left unread). */
static struct node *parse_list(void) {
  struct node *head = NULL;
  linebreak();
  while (!P.error && !P.more && !at_terminator()) {
    struct node *a = parse_item();
    if (!a) return NULL;
    head = seq(head, a);
    linebreak();
  }
  if (P.error || P.more) return NULL;
  return head;
}

/** Parses one command line: and-or lists up to a newline at the top level, or the end. */
static struct node *parse_line(bool *at_eof) {
  struct node *head = NULL;
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
    struct node *a = parse_item();
    if (!a) return NULL;
    head = seq(head, a);
  }
  return head;
}

/** Parses `text` on its own (the inside of `...`): the commands, or NULL with P.error set. */
static struct node *parse_text(const char *text, size_t n) {
  __typeof__(P) saved = P;
  memset(&P, 0, sizeof P);
  P.buf = text, P.len = n, P.final = true, P.lineno = saved.lineno;
  struct node *r = parse_list();
  if (!P.error && peek() != T_EOF) unexpected(peek());
  char *error = P.error;
  P = saved;
  if (error) P.error = error;
  return r;
}

// ---------------------------------------------------------------------------------------------
// sh -n: printing the structure

static void print_word(struct sbuf *o, struct word *w);
static void print_node(struct sbuf *o, struct node *n);

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
  } else if (s->kind == S_CMDSUB) {
    if (s->q) sb_addc(o, '"');
    sb_adds(o, "$(");
    print_node(o, s->sub);
    sb_adds(o, ")");
    if (s->q) sb_addc(o, '"');
  } else if (s->kind == S_ARITH) {
    if (s->q) sb_addc(o, '"');
    sb_adds(o, "$((");
    print_word(o, s->alt);
    sb_adds(o, "))");
    if (s->q) sb_addc(o, '"');
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

static void print_node(struct sbuf *o, struct node *n);

static void print_redirs(struct sbuf *o, struct redir *r, bool sp) {
  static const char *ops[] = {"<", ">", ">>", ">&", "<&", "<<"};
  for (; r; r = r->next) {
    if (sp) sb_addc(o, ' ');
    char b[16];
    snprintf(b, sizeof b, "%d%s", r->fd, ops[r->kind]);
    sb_adds(o, b);
    print_word(o, r->target);
    sp = true;
  }
}

static void print_cmd(struct sbuf *o, struct node *c) {
  bool sp = false;
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
  print_redirs(o, c->redirs, sp);
}

static void print_words(struct sbuf *o, struct word *w) {
  for (; w; w = w->next) sb_addc(o, ' '), print_word(o, w);
}

/** One line for any command: the structure with `;` between its parts. */
static void print_node(struct sbuf *o, struct node *n) {
  if (!n) return;
  switch (n->type) {
  case N_CMD: print_cmd(o, n); return;
  case N_PIPE:
    for (struct node *s = n->a; s; s = s->next) {
      print_node(o, s);
      if (s->next) sb_adds(o, " | ");
    }
    return;
  case N_AND:
  case N_OR:
    print_node(o, n->a);
    sb_adds(o, n->type == N_AND ? " && " : " || ");
    print_node(o, n->b);
    return;
  case N_NOT: sb_adds(o, "! "), print_node(o, n->a); return;
  case N_SEQ: print_node(o, n->a), sb_adds(o, "; "), print_node(o, n->b); return;
  case N_BG: print_node(o, n->a), sb_adds(o, " &"); return;
  case N_IF:
    sb_adds(o, "if "), print_node(o, n->a), sb_adds(o, "; then "), print_node(o, n->b);
    for (struct node *e = n->c; e; e = e->type == N_IF ? e->c : NULL) {
      if (e->type == N_IF) sb_adds(o, "; elif "), print_node(o, e->a), sb_adds(o, "; then "), print_node(o, e->b);
      else sb_adds(o, "; else "), print_node(o, e);
    }
    sb_adds(o, "; fi");
    break;
  case N_WHILE:
  case N_UNTIL:
    sb_adds(o, n->type == N_WHILE ? "while " : "until "), print_node(o, n->a);
    sb_adds(o, "; do "), print_node(o, n->b), sb_adds(o, "; done");
    break;
  case N_FOR:
    sb_adds(o, "for "), sb_adds(o, n->name);
    if (n->has_in) sb_adds(o, " in"), print_words(o, n->args);
    sb_adds(o, "; do "), print_node(o, n->b), sb_adds(o, "; done");
    break;
  case N_CASE:
    sb_adds(o, "case "), print_word(o, n->args), sb_adds(o, " in");
    for (struct caseitem *it = n->items; it; it = it->next) {
      sb_addc(o, ' ');
      for (struct word *p = it->pats; p; p = p->next) {
        print_word(o, p);
        if (p->next) sb_addc(o, '|');
      }
      sb_adds(o, ") "), print_node(o, it->body), sb_adds(o, ";;");
    }
    sb_adds(o, " esac");
    break;
  case N_SUB: sb_adds(o, "( "), print_node(o, n->a), sb_adds(o, " )"); break;
  case N_GROUP: sb_adds(o, "{ "), print_node(o, n->a), sb_adds(o, "; }"); break;
  case N_FUNC: sb_adds(o, n->name), sb_adds(o, "() "), print_node(o, n->a); return;
  }
  print_redirs(o, n->redirs, true);
}

static int print_serial;

/**
 * sh -n: each and-or list numbered, `[1] first` then `    && next` / `    || next` for the
 * commands joined to it; a pipeline or compound command on the line of its list.
 */
static void print_andor(struct sbuf *o, struct node *n) {
  if (n->type == N_AND || n->type == N_OR) {
    print_andor(o, n->a);
    o->len = 0;
    sb_adds(o, n->type == N_AND ? "    && " : "    || ");
    print_node(o, n->b);
    sb_addc(o, '\n');
    fdputs(1, o->s);
    return;
  }
  o->len = 0;
  char b[32];
  snprintf(b, sizeof b, "[%d] ", ++print_serial);
  sb_adds(o, b);
  print_node(o, n);
  sb_addc(o, '\n');
  fdputs(1, o->s);
}

static void print_list(struct node *n) {
  if (!n) return;
  if (n->type == N_SEQ) {
    print_list(n->a);
    print_list(n->b);
    return;
  }
  struct sbuf o = {0};
  sb_add(&o, "", 0);
  print_andor(&o, n);
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
  bool pattern;  // a case pattern: unquoted expansions keep their glob characters
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
    fld_add(e, v, strlen(v), !e->pattern);
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
static char *command_output(struct node *n);
static int expand_status = 1;  // the status of a command whose expansion failed

static const char *arith_get(const char *name) { return getvar(name); }

static bool arith_set(const char *name, const char *value) {
  setvar(name, value, -1);
  return true;
}

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
    case S_CMDSUB: {
      char *out = command_output(s->sub);
      if (s->q) fld_add(e, out, strlen(out), true);
      else fld_add_split(e, out);
      free(out);
      break;
    }
    case S_ARITH: {
      char *expr = expand_string(s->alt);
      intmax_t v = 0;
      char msg[1024];
      bool ok = arith_eval(expr, &v, arith_get, arith_set, msg, sizeof msg);
      free(expr);
      if (!ok) {
        err("%s\n", msg);
        e->failed = true;
        expand_status = 2;
        return;
      }
      char num[32];
      snprintf(num, sizeof num, "%jd", v);
      if (s->q) fld_add(e, num, strlen(num), true);
      else fld_add_split(e, num);
      break;
    }
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
        expand_status = 1;
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

/** A case pattern: expanded without splitting, quoted characters escaped for fnmatch. */
static char *expand_pattern(struct word *w) {
  struct strv out = {0};
  struct expander e = {&out, false, {{0}, {0}, false, false}, false, true};
  expand_segs(&e, w);
  char *r = xstrdup(e.f.pat.s ? e.f.pat.s : "");
  free(e.f.text.s), free(e.f.pat.s);
  sv_free(&out);
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

/**
 * echo, as the toolbox's (guests/echo.h: GNU's -n, -e, -E), built in so that a loop of echos costs
 * no program start each: the words and the newline go out in one write.
 */
static int bi_echo(int argc, char **argv, const int *fds) {
  bool nl, esc, stop = false;
  int i = echo_options(argc, argv, &nl, &esc);
  struct sbuf o = {0};
  sb_add(&o, "", 0);
  for (int first = i; i < argc && !stop; i++) {
    if (i > first) sb_addc(&o, ' ');
    if (!esc) {
      sb_adds(&o, argv[i]);
      continue;
    }
    char *b = xmalloc(strlen(argv[i]) + 1);
    sb_add(&o, b, echo_unescape(argv[i], b, &stop));
    free(b);
  }
  if (nl && !stop) sb_addc(&o, '\n');
  int status = 0;
  for (size_t done = 0; done < o.len;) {
    ssize_t w = write(fds[1], o.s + done, o.len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      // the reader is gone: where Linux's SIGPIPE would kill the shell, or the subshell (a loop
      // writing into `| head` in a child shell), it ends, silently, with SIGPIPE's status
      free(o.s);
      sh_exit(141);
      return 141;
    }
    if (w <= 0) {
      fdprintf(fds[2], "sh: echo: write error: %s\n", errstr(errno));
      status = 1;
      break;
    }
    done += (size_t)w;
  }
  free(o.s);
  return status;
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
  dot_depth++;
  int rc = run_source(buf, len, -1, false, name);
  dot_depth--;
  if (unwinding == U_RETURN) {
    unwinding = U_NONE;
    rc = unwind_status;
  }
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

static int bi_break(int argc, char **argv, const int *fds);
static int bi_return(int argc, char **argv, const int *fds);
static int bi_eval(int argc, char **argv, const int *fds);
static int bi_read(int argc, char **argv, const int *fds);
static int bi_trap(int argc, char **argv, const int *fds);
static int bi_wait(int argc, char **argv, const int *fds);
static int bi_local(int argc, char **argv, const int *fds);

static const struct {
  const char *name;
  builtin_fn fn;
} BUILTINS[] = {
    {":", bi_true},        {".", bi_dot},         {"break", bi_break},   {"cd", bi_cd},         {"echo", bi_echo},
    {"continue", bi_break}, {"eval", bi_eval},    {"exit", bi_exit},     {"export", bi_export},
    {"false", bi_false},   {"local", bi_local},   {"pwd", bi_pwd},       {"read", bi_read},
    {"return", bi_return}, {"set", bi_set},      {"shift", bi_shift},   {"source", bi_dot},
    {"trap", bi_trap},     {"true", bi_true},    {"type", bi_type},     {"unset", bi_unset},
    {"wait", bi_wait},
};

static builtin_fn find_builtin(const char *name) {
  for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
    if (!strcmp(BUILTINS[i].name, name)) return BUILTINS[i].fn;
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Running commands

/**
 * A foreground program ended: in an interactive shell, one stopped by Ctrl-C (130, killed by
 * SIGINT) ends the command line, as with dash; the terminal shows ^C, so a newline follows.
 */
static void fg_ended(int status) {
  if (!opt_i || status != 130 || unwinding == U_INTR) return;
  fdputs(2, "\n");
  unwinding = U_INTR;
}

static char *self_path(void) {
  int why;
  char *p = find_command(self_name, &why);
  return p ? p : xstrdup("/bin/sh");
}

/**
 * Runs a program through wasmbox.spawn; returns its status (127/126 with a message if it cannot
 * run). With `handle`, starts it (wasmbox.start) and stores the handle to wait for instead.
 */
static int spawn_program(const char *shown, const char *path, char **argv, int argc, struct strv *env, const int *fds, bool script_fallback, int *handle) {
  struct sbuf ab = {0}, eb = {0};
  for (int i = 0; i < argc; i++) sb_add(&ab, argv[i], strlen(argv[i]) + 1);
  for (int i = 0; i < env->n; i++) sb_add(&eb, env->v[i], strlen(env->v[i]) + 1);
  int status = 0;
  int e = handle ? wasmbox_start(path, strlen(path), ab.s ? ab.s : "", ab.len, (size_t)argc, eb.s ? eb.s : "", eb.len,
                                 (size_t)env->n, cur_dir, strlen(cur_dir), fds, handle)
                 : wasmbox_spawn(path, strlen(path), ab.s ? ab.s : "", ab.len, (size_t)argc, eb.s ? eb.s : "", eb.len,
                                 (size_t)env->n, cur_dir, strlen(cur_dir), fds, &status);
  free(ab.s), free(eb.s);
  if (e == 0) {
    if (!handle) fg_ended(status);
    return status;
  }
  if (e == ENOEXEC && script_fallback) {
    // not WebAssembly: run it as a shell script, as POSIX shells do (unless it looks binary)
    char head[256];
    ssize_t n = -1;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) n = read(fd, head, sizeof head), close(fd);
    if (n > 0 && memchr(head, 0, (size_t)n)) {
      err("%s: cannot execute binary file\n", shown);
      return 126;
    }
    char *sh = self_path();
    char **nargv = xmalloc(sizeof(char *) * (size_t)(argc + 2));
    nargv[0] = (char *)self_name;
    nargv[1] = strchr(shown, '/') ? (char *)shown : (char *)path;
    for (int i = 1; i < argc; i++) nargv[i + 1] = argv[i];
    int rc = spawn_program(shown, sh, nargv, argc + 1, env, fds, false, handle);
    free(nargv);
    free(sh);
    return rc;
  }
  if (e == ENOENT) {
    err("%s: not found\n", shown);
    return 127;
  }
  err("%s: %s\n", shown, errstr(e));
  return 126;
}

// ---------------------------------------------------------------------------------------------
// Shell functions, subshells (emulated: WASI has no fork) and control flow

struct func {
  char *name, *src;   // src: the definition's text, for a child shell (see run_in_child)
  struct node *body;  // parsed again into the permanent arena when defined (see define_func)
  struct func *next;  // newest first: a subshell's definitions are dropped by restoring the head
};
static struct func *funcs;
static struct chunk *perm_arena;  // what outlives the command line it was parsed in

static struct node *find_func(const char *name) {
  for (struct func *f = funcs; f; f = f->next)
    if (!strcmp(f->name, name)) return f->body;
  return NULL;
}

/** A variable set inside a function with `local`, and what to put back when it returns. */
struct local {
  char *name, *value;
  bool exported, was_set;
  struct local *next;
};
static struct local *locals;

// A subshell runs in this shell's own process, with its state saved before and put back after:
// variables, parameters, directory, options, functions and traps. It cannot run beside the shell:
// what must (a compound stage of a pipeline but the last, a compound command put in the background)
// runs in a child shell instead, given this shell's state as text (see run_in_child).
struct state {
  struct var *vars;
  char **params;
  int nparams;
  char *cwd;
  bool e, x;
  struct func *funcs;
  char *exit_trap;
  int loop_depth, func_depth;
  struct local *locals;
};

static struct var *copy_vars(struct var *v) {
  struct var *head = NULL, **last = &head;
  for (; v; v = v->next) {
    struct var *c = xmalloc(sizeof *c);
    c->name = xstrdup(v->name);
    c->value = v->value ? xstrdup(v->value) : NULL;
    c->exported = v->exported;
    c->next = NULL;
    *last = c;
    last = &c->next;
  }
  return head;
}

static void free_vars(struct var *v) {
  while (v) {
    struct var *n = v->next;
    free(v->name), free(v->value), free(v);
    v = n;
  }
}

static void save_state(struct state *s) {
  s->vars = copy_vars(vars);
  s->params = xmalloc(sizeof(char *) * (size_t)(nparams + 1));
  for (int i = 0; i < nparams; i++) s->params[i] = xstrdup(params[i]);
  s->nparams = nparams;
  s->cwd = xstrdup(cur_dir);
  s->e = opt_e, s->x = opt_x;
  s->funcs = funcs;
  s->exit_trap = exit_trap ? xstrdup(exit_trap) : NULL;
  s->loop_depth = loop_depth, s->func_depth = func_depth;
  s->locals = locals;
  sub_depth++;
}

static void restore_state(struct state *s) {
  sub_depth--;
  free_vars(vars);
  vars = s->vars;
  for (int i = 0; i < nparams; i++) free(params[i]);
  free(params);
  params = s->params, nparams = s->nparams;
  if (strcmp(cur_dir, s->cwd)) {
    chdir(s->cwd);
    free(cur_dir);
    cur_dir = s->cwd;
  } else {
    free(s->cwd);
  }
  opt_e = s->e, opt_x = s->x;
  funcs = s->funcs;
  free(exit_trap);
  exit_trap = s->exit_trap;
  loop_depth = s->loop_depth, func_depth = s->func_depth;
  locals = s->locals;
}

static int run(struct node *n);

/** Runs `n` as a subshell: its changes to the shell's state are undone, `exit` ends only it. */
static int run_subshell(struct node *n) {
  struct state st;
  save_state(&st);
  int status = run(n);
  if (unwinding == U_EXIT) status = unwind_status;
  if (unwinding && unwinding != U_INTR) unwinding = U_NONE;
  if (exit_trap) {
    // the subshell's own EXIT trap, set inside it
    bool own = !st.exit_trap || strcmp(st.exit_trap, exit_trap);
    if (own) {
      char *t = exit_trap;
      exit_trap = NULL;
      int saved = last_status;
      last_status = status;
      run_source(t, strlen(t), -1, false, "trap");
      last_status = saved;
      free(t);
      unwinding = U_NONE;
    }
  }
  restore_state(&st);
  return status;
}

/** Ends the shell, or the subshell it runs in, with `status` (the EXIT trap runs first). */
static void sh_exit(int status) {
  if (sub_depth > 0) {
    unwinding = U_EXIT;
    unwind_status = status;
    return;
  }
  if (exit_trap) {
    char *t = exit_trap;
    exit_trap = NULL;
    last_status = status;
    unwinding = U_NONE;
    run_source(t, strlen(t), -1, false, "trap");
    if (unwinding == U_EXIT) status = unwind_status;
  }
  exit(status);
}

/** A function definition: the body is parsed again from its text into the permanent arena. */
static void define_func(struct node *n) {
  struct chunk *line_arena = arena;
  arena = perm_arena;
  struct node *def = parse_text(n->src, strlen(n->src));
  perm_arena = arena;
  arena = line_arena;
  struct func *f = xmalloc(sizeof *f);
  f->name = xstrdup(n->name);
  f->src = xstrdup(n->src);
  f->body = def && def->type == N_FUNC ? def->a : n->a;  // the copy, or (never expected) the original
  f->next = funcs;
  funcs = f;
}

static int call_func(struct node *body, int argc, char **argv) {
  char **saved = params;
  int nsaved = nparams;
  params = NULL, nparams = 0;
  set_params(argc - 1, argv + 1);
  struct local *outer_locals = locals;
  int outer_loops = loop_depth;
  locals = NULL;
  loop_depth = 0;
  func_depth++;
  int status = run(body);
  if (unwinding == U_RETURN) {
    unwinding = U_NONE;
    status = unwind_status;
  }
  func_depth--;
  while (locals) {
    struct local *l = locals;
    locals = l->next;
    if (l->was_set) setvar(l->name, l->value, l->exported);
    else unsetvar(l->name);
    free(l->name), free(l->value), free(l);
  }
  locals = outer_locals;
  loop_depth = outer_loops;
  set_params(0, NULL);
  free(params);
  params = saved, nparams = nsaved;
  return status;
}

// ---------------------------------------------------------------------------------------------
// Pipes, command substitution, background commands

static bool make_pipe(int p[2], bool unbounded) {
  int e = wasmbox_pipe(p, unbounded ? WASMBOX_PIPE_UNBOUNDED : 0);
  if (e == 0) return true;
  err("cannot make a pipe: %s\n", e == ENOSYS ? "this host has no pipes (wasmbox.pipe)" : errstr(e));
  return false;
}

/** $(...): the output of the commands, run as a subshell, with trailing newlines removed. */
static char *command_output(struct node *n) {
  int p[2];
  if (!make_pipe(p, true)) {
    cmdsub_status = 1;
    return xstrdup("");
  }
  int saved = io[1];
  io[1] = p[1];
  int status = run_subshell(n);
  io[1] = saved;
  close(p[1]);
  struct sbuf out = {0};
  sb_add(&out, "", 0);
  char buf[4096];
  for (;;) {
    ssize_t r = read(p[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    sb_add(&out, buf, (size_t)r);
  }
  close(p[0]);
  while (out.len > 0 && out.s[out.len - 1] == '\n') out.s[--out.len] = 0;
  cmdsub_status = status;
  last_status = status;
  return out.s;
}

// background commands not yet waited for: wasmbox handles, or (from FAKE_HANDLE up) commands that
// ran in the shell and have finished, with their status
enum { FAKE_HANDLE = 1 << 24 };
static int bg_handles[64], bg_status[64], nbg, next_fake = FAKE_HANDLE;

static void add_bg(int h, int status) {
  if (nbg == (int)(sizeof bg_handles / sizeof bg_handles[0])) {
    int st;
    if (bg_handles[0] < FAKE_HANDLE) wasmbox_wait(bg_handles[0], &st);
    nbg--;
    memmove(bg_handles, bg_handles + 1, sizeof(int) * (size_t)nbg);
    memmove(bg_status, bg_status + 1, sizeof(int) * (size_t)nbg);
  }
  bg_handles[nbg] = h;
  bg_status[nbg++] = status;
  last_bg = h;
}

static int run_simple(struct node *c, int *handle);

/** The environment of a program: exported variables, with the command's own assignments on top. */
static void exported_env(struct strv *env, struct strv *assigns) {
  for (struct var *v = vars; v; v = v->next) {
    if (!v->exported || !v->value) continue;
    bool overridden = false;
    for (int i = 0; assigns && i < assigns->n; i++) {
      size_t n = strlen(v->name);
      if (!strncmp(assigns->v[i], v->name, n) && assigns->v[i][n] == '=') overridden = true;
    }
    if (overridden) continue;
    char *kv = xmalloc(strlen(v->name) + strlen(v->value) + 2);
    sprintf(kv, "%s=%s", v->name, v->value);
    sv_push(env, kv);
  }
  for (int i = 0; assigns && i < assigns->n; i++) sv_push(env, xstrdup(assigns->v[i]));
}

/** Will this stage of a pipeline run as a program of its own (not in the shell)? */
static bool external_stage(struct node *s) {
  if (s->type != N_CMD || !s->args) return false;
  const char *name = plain(s->args);
  return name && !find_builtin(name) && !find_func(name) && strcmp(name, "exec");
}

static bool all_external(struct node *pipe) {
  for (struct node *s = pipe->a; s; s = s->next)
    if (!external_stage(s)) return false;
  return true;
}

/** Does this command have to run beside the shell, in a child shell, when it cannot run first? */
static bool needs_child(struct node *s) {
  if (s->type != N_CMD) return true;  // compound: loops, or programs whose output could be endless
  const char *name = s->args ? plain(s->args) : NULL;
  if (!name) return false;
  return find_func(name) || !strcmp(name, "eval") || !strcmp(name, ".") || !strcmp(name, "source") || !strcmp(name, "command");
}

/** Can `n` (a stage, or an N_BG) run in a child shell from its text? Here-documents stay behind. */
static bool child_text(struct node *n) {
  return n->job_src && !strstr(n->job_src, "<<");
}

static void add_func_defs(struct sbuf *o, struct func *f) {
  if (!f) return;
  add_func_defs(o, f->next);  // oldest first: a later definition of a name wins
  sb_adds(o, f->src);
  sb_addc(o, '\n');
}

/**
 * Starts `text` in a child shell (wasmbox.start) with fds io[0..2]: the emulated subshell for what
 * must run beside this shell. The child gets this shell's state: exported variables through the
 * environment, the others and the functions as a prelude of assignments and definitions (--sub),
 * its options; $0 and the parameters as arguments; $$, $? and $! through --sub. Returns 0 with
 * *handle set, or the status of a child that could not start.
 */
static int run_in_child(const char *text, int *handle) {
  struct sbuf src = {0};
  for (struct var *v = vars; v; v = v->next) {
    if (v->exported || !v->value) continue;
    sb_adds(&src, v->name);
    sb_addc(&src, '=');
    print_quoted(&src, v->value);
    sb_addc(&src, '\n');
  }
  add_func_defs(&src, funcs);
  char sub[64];
  snprintf(sub, sizeof sub, "--sub=%u,%d,%d", shell_id, last_status, last_bg);
  struct strv argv = {0};
  sv_push(&argv, xstrdup(self_name));
  sv_push(&argv, xstrdup(sub));
  sv_push(&argv, src.s ? src.s : xstrdup(""));
  if (opt_e && cond_depth == 0) sv_push(&argv, xstrdup("-e"));
  if (opt_x) sv_push(&argv, xstrdup("-x"));
  sv_push(&argv, xstrdup("-c"));
  sv_push(&argv, xstrdup(text));
  sv_push(&argv, xstrdup(arg0));
  for (int i = 0; i < nparams; i++) sv_push(&argv, xstrdup(params[i]));
  struct strv env = {0};
  exported_env(&env, NULL);
  char *path = self_path();
  int fds[3] = {io[0], io[1], io[2]};
  int status = spawn_program(self_name, path, argv.v, argv.n, &env, fds, false, handle);
  free(path);
  sv_free(&env);
  sv_free(&argv);
  return status;
}

/**
 * A pipeline: every stage that is a program, or must run in a child shell, is started (with JSPI
 * they run side by side, the pipe between two of them holding 64 KiB); the others (builtins, the
 * last stage) run in this shell as subshells, in order; then the started ones are waited for. The
 * status is the last stage's. `bg`: do not wait (cmd &).
 */
static int run_pipeline(struct node *n, bool bg) {
  int count = 0;
  for (struct node *s = n->a; s; s = s->next) count++;
  int *handles = xmalloc(sizeof(int) * (size_t)count);
  int *statuses = xmalloc(sizeof(int) * (size_t)count);
  int in = io[0], i = 0, ran = 0;
  bool in_own = false;
  for (struct node *s = n->a; s; s = s->next, i++) {
    int p[2] = {-1, -1};
    bool child = s->next && needs_child(s) && child_text(s);
    bool in_shell = !external_stage(s) && !child;
    // a stage that runs in the shell finishes before the next one starts: its pipe must hold all
    if (s->next && !make_pipe(p, in_shell)) {
      statuses[i] = 1;
      break;
    }
    int saved[3] = {io[0], io[1], io[2]};
    io[0] = in;
    if (s->next) io[1] = p[1];
    handles[i] = 0;
    if (external_stage(s)) {
      statuses[i] = run_simple(s, &handles[i]);
    } else if (child) {
      statuses[i] = run_in_child(s->job_src, &handles[i]);
    } else {
      struct state st;
      save_state(&st);
      statuses[i] = s->type == N_CMD ? run_simple(s, NULL) : run(s);
      if (unwinding == U_EXIT) statuses[i] = unwind_status;
      if (unwinding != U_INTR) unwinding = U_NONE;
      restore_state(&st);
    }
    io[0] = saved[0], io[1] = saved[1], io[2] = saved[2];
    ran = i + 1;
    if (in_own) close(in);
    if (p[1] >= 0) close(p[1]);
    in = p[0];
    in_own = p[0] >= 0;
  }
  if (in_own) close(in);
  for (i = 0; i < ran; i++) {
    if (handles[i] <= 0) continue;
    if (bg) {
      add_bg(handles[i], 0);
      continue;
    }
    int st = 0;
    if (wasmbox_wait(handles[i], &st) == 0) statuses[i] = st;
    fg_ended(statuses[i]);
  }
  int status = ran == count ? statuses[count - 1] : 1;
  free(handles), free(statuses);
  return bg ? 0 : status;
}

// ---------------------------------------------------------------------------------------------
// Running commands

/** Opens the redirections of a command into fds[0..2]; the opened fds go to `opened`. */
static bool apply_redirs(struct redir *r, int *fds, int *opened, int *nopened) {
  for (; r; r = r->next) {
    if (r->kind == R_DUPOUT || r->kind == R_DUPIN) {
      fds[r->fd] = fds[r->target->segs->text[0] - '0'];
      continue;
    }
    if (r->kind == R_HEREDOC) {
      int p[2];
      if (!make_pipe(p, true)) return false;
      char *body = expand_string(r->target);
      fdputs(p[1], body);
      free(body);
      close(p[1]);
      opened[(*nopened)++] = p[0];
      fds[r->fd] = p[0];
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
      err("%s: %s\n", t, errstr(e));
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
  fdputs(io[2], o.s);
  free(o.s);
}

static int count_redirs(struct redir *r) {
  int n = 0;
  for (; r; r = r->next) n++;
  return n;
}

/**
 * A simple command. With `handle`, a program is started rather than waited for, and its handle
 * stored there (0 when the command ran in the shell).
 */
/** A decimal integer as `test` reads it in its plain form ([-]digits, at most 18 of them), exactly. */
static bool plain_ll(const char *s, long long *out) {
  const char *p = s + (*s == '-');
  size_t n = strlen(p);
  if (n == 0 || n > 18 || strspn(p, "0123456789") != n) return false;
  *out = strtoll(s, NULL, 10);
  return true;
}

/**
 * `test` and `[` answered in the shell for their everyday forms (up to three arguments: strings,
 * plain integers, -n -z, -e -f -d of a path without ".."): the status, or -1 for anything else,
 * errors included, which the toolbox's test then answers with its own words. A loop round of
 * `while [ $i -lt 10 ]` then costs no program start.
 */
static int quick_test(int argc, char **argv) {
  if (!strcmp(argv[0], "[")) {
    if (argc < 2 || strcmp(argv[argc - 1], "]")) return -1;
    argc--;
  }
  char **a = argv + 1;
  int n = argc - 1;
  if (n == 0) return 1;
  if (n == 1) return a[0][0] ? 0 : 1;
  if (n == 2) {
    if (!strcmp(a[0], "!") || !strcmp(a[0], "-z")) return a[1][0] ? 1 : 0;
    if (!strcmp(a[0], "-n")) return a[1][0] ? 0 : 1;
    if ((!strcmp(a[0], "-e") || !strcmp(a[0], "-f") || !strcmp(a[0], "-d")) && !strstr(a[1], "..")) {
      if (!a[1][0]) return 1;
      char *p = path_normalize(cur_dir, a[1]);
      struct stat st;
      int r = stat(p, &st);
      free(p);
      if (r != 0) return 1;
      char k = a[0][1];
      return k == 'e' || (k == 'f' && S_ISREG(st.st_mode)) || (k == 'd' && S_ISDIR(st.st_mode)) ? 0 : 1;
    }
    return -1;
  }
  if (n != 3) return -1;
  const char *op = a[1];
  if (!strcmp(op, "=") || !strcmp(op, "==")) return strcmp(a[0], a[2]) ? 1 : 0;
  if (!strcmp(op, "!=")) return strcmp(a[0], a[2]) ? 0 : 1;
  static const char *const iops[] = {"-eq", "-ne", "-lt", "-le", "-gt", "-ge"};
  for (int k = 0; k < 6; k++) {
    if (strcmp(op, iops[k])) continue;
    long long x, y;
    if (!plain_ll(a[0], &x) || !plain_ll(a[2], &y)) return -1;
    bool r = k == 0 ? x == y : k == 1 ? x != y : k == 2 ? x < y : k == 3 ? x <= y : k == 4 ? x > y : x >= y;
    return r ? 0 : 1;
  }
  return -1;
}

static int run_simple(struct node *c, int *handle) {
  struct strv argv = {0}, assigns = {0};
  int status = 0;
  bool exec_after = false;
  cmdsub_status = -1;
  if (!expand_words(c->args, &argv)) {
    sv_free(&argv);
    // as POSIX shells, a failed expansion ends a shell that is not interactive
    if (!opt_i) sh_exit(2);
    return expand_status;
  }
  if (unwinding == U_INTR) {
    // a $(...) of it was stopped by Ctrl-C
    sv_free(&argv);
    return 130;
  }
  for (struct word *w = c->assigns; w; w = w->next) {
    char *v = expand_string(w);
    sv_push(&assigns, v);
  }
  if (opt_x && (argv.n || assigns.n)) trace(&assigns, &argv);
  int fds[3] = {io[0], io[1], io[2]}, opened[64], nopened = 0;
  if (count_redirs(c->redirs) > 64 || !apply_redirs(c->redirs, fds, opened, &nopened)) {
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
    status = cmdsub_status >= 0 ? cmdsub_status : 0;
    goto done;
  }
  if (!strcmp(argv.v[0], "exec")) {
    if (argv.n == 1) {
      // exec with redirections only: they stay for the rest of the shell
      io[0] = fds[0], io[1] = fds[1], io[2] = fds[2];
      nopened = 0;
      goto done;
    }
    // exec COMMAND: run it, then end with its status (WASI cannot replace a process)
    free(argv.v[0]);
    memmove(argv.v, argv.v + 1, sizeof(char *) * (size_t)argv.n);
    argv.n--;
    handle = NULL;
    exec_after = true;
  }
  struct node *fn = find_func(argv.v[0]);
  if (!fn && (!strcmp(argv.v[0], "[") || !strcmp(argv.v[0], "test"))) {
    int q = quick_test(argv.n, argv.v);
    if (q >= 0) {
      status = q;
      goto done;
    }
  }
  builtin_fn bi = fn ? NULL : find_builtin(argv.v[0]);
  if (fn || bi) {
    // prefix assignments last for the builtin or function only
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
    int outer[3] = {io[0], io[1], io[2]};
    io[0] = fds[0], io[1] = fds[1], io[2] = fds[2];
    status = fn ? call_func(fn, argv.n, argv.v) : bi(argv.n, argv.v, fds);
    io[0] = outer[0], io[1] = outer[1], io[2] = outer[2];
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
      err("%s: not found\n", argv.v[0]);
      status = 127;
    } else {
      err("%s: %s\n", argv.v[0], errstr(why));
      status = 126;
    }
    goto done;
  }
  struct strv env = {0};
  exported_env(&env, &assigns);
  status = spawn_program(argv.v[0], path, argv.v, argv.n, &env, fds, true, handle);
  sv_free(&env);
  free(path);
done:
  for (int i = 0; i < nopened; i++) close(opened[i]);
  sv_free(&argv);
  sv_free(&assigns);
  if (exec_after) sh_exit(status);
  return status;
}

/** With -e, a failed command ends the shell, except where its status is being tested. */
static void check_e(int status) {
  if (opt_e && status != 0 && cond_depth == 0 && !unwinding) sh_exit(status);
}

/** Break and continue at the end of a loop's round: true when the loop stops. */
static bool loop_unwound(bool *skip) {
  *skip = false;
  if (unwinding != U_BREAK && unwinding != U_CONTINUE) return unwinding != U_NONE;
  if (--unwind_levels > 0) return true;  // an outer loop's
  bool cont = unwinding == U_CONTINUE;
  unwinding = U_NONE;
  if (cont) *skip = true;
  return !cont;
}

static int run_loop(struct node *n) {
  int status = 0;
  loop_depth++;
  for (unsigned turn = 1;; turn++) {
    // processes take turns at their calls: a loop that makes none (`while :; do :; done &`) lets
    // the others run now and then (with JSPI, sched_yield puts the shell aside for a moment)
    if (turn % 256 == 0) sched_yield();
    cond_depth++;
    int c = run(n->a);
    cond_depth--;
    bool skip;
    if (unwinding) {
      if (loop_unwound(&skip)) break;
      continue;  // `continue` in the condition
    }
    if ((c == 0) != (n->type == N_WHILE)) break;
    status = run(n->b);
    if (unwinding && loop_unwound(&skip)) break;
  }
  loop_depth--;
  return status;
}

static int run_for(struct node *n) {
  struct strv words = {0};
  if (n->has_in) {
    if (!expand_words(n->args, &words)) {
      sv_free(&words);
      return expand_status;
    }
  } else {
    for (int i = 0; i < nparams; i++) sv_push(&words, xstrdup(params[i]));
  }
  int status = 0;
  loop_depth++;
  for (int i = 0; i < words.n; i++) {
    setvar(n->name, words.v[i], -1);
    status = run(n->b);
    bool skip;
    if (unwinding && loop_unwound(&skip)) break;
  }
  loop_depth--;
  sv_free(&words);
  return status;
}

static int run_case(struct node *n) {
  char *subject = expand_string(n->args);
  int status = 0;
  for (struct caseitem *it = n->items; it; it = it->next) {
    for (struct word *p = it->pats; p; p = p->next) {
      char *pat = expand_pattern(p);
      bool match = fnmatch(pat, subject, 0) == 0;
      free(pat);
      if (match) {
        status = it->body ? run(it->body) : 0;
        free(subject);
        return status;
      }
    }
  }
  free(subject);
  return status;
}

/** Runs a command tree; returns its status (also left in $?). */
static int run(struct node *n) {
  if (!n || unwinding) return last_status;
  int status = 0;
  int saved[3] = {io[0], io[1], io[2]}, opened[64], nopened = 0;
  bool redirected = n->type != N_CMD && n->redirs;
  if (redirected) {
    int fds[3] = {io[0], io[1], io[2]};
    if (count_redirs(n->redirs) > 64 || !apply_redirs(n->redirs, fds, opened, &nopened)) {
      for (int i = 0; i < nopened; i++) close(opened[i]);
      return last_status = 1;
    }
    io[0] = fds[0], io[1] = fds[1], io[2] = fds[2];
  }
  switch (n->type) {
  case N_CMD:
    status = run_simple(n, NULL);
    last_status = status;
    check_e(status);
    break;
  case N_PIPE:
    status = run_pipeline(n, false);
    last_status = status;
    check_e(status);
    break;
  case N_AND:
  case N_OR:
    cond_depth++;
    status = run(n->a);
    cond_depth--;
    if (!unwinding && (status == 0) == (n->type == N_AND)) status = run(n->b);
    break;
  case N_NOT:
    cond_depth++;
    status = run(n->a) == 0 ? 1 : 0;
    cond_depth--;
    break;
  case N_SEQ:
    run(n->a);
    status = unwinding ? last_status : run(n->b);
    break;
  case N_BG:
    if (n->a->type == N_PIPE && (all_external(n->a) || !child_text(n))) status = run_pipeline(n->a, true);
    else if (external_stage(n->a)) {
      int h = 0;
      status = run_simple(n->a, &h);
      if (h > 0) add_bg(h, 0), status = 0;
    } else if (child_text(n)) {
      // runs beside the shell, so that `while :; do ...; done &` does not hold it
      int h = 0;
      status = run_in_child(n->job_src, &h);
      if (h > 0) add_bg(h, 0), status = 0;
    } else {
      // runs in the shell, as a subshell: it has finished when it returns
      add_bg(next_fake++, run_subshell(n->a));
      status = 0;
    }
    break;
  case N_IF:
    cond_depth++;
    status = run(n->a);
    cond_depth--;
    if (unwinding) break;
    if (status == 0) status = run(n->b);
    else status = n->c ? run(n->c) : 0;
    break;
  case N_WHILE:
  case N_UNTIL: status = run_loop(n); break;
  case N_FOR: status = run_for(n); break;
  case N_CASE: status = run_case(n); break;
  case N_SUB:
    status = run_subshell(n->a);
    last_status = status;
    check_e(status);
    break;
  case N_GROUP: status = run(n->a); break;
  case N_FUNC:
    define_func(n);
    status = 0;
    break;
  }
  if (redirected) {
    for (int i = 0; i < nopened; i++) close(opened[i]);
    io[0] = saved[0], io[1] = saved[1], io[2] = saved[2];
  }
  if (unwinding == U_EXIT || unwinding == U_RETURN) return last_status = unwind_status;
  return last_status = status;
}

// ---------------------------------------------------------------------------------------------
// Builtins for control flow, input, traps and background commands

static bool loop_count(int argc, char **argv, const int *fds, int *n) {
  *n = 1;
  if (argc > 1 && (!parse_int(argv[1], n) || *n < 1)) {
    fdprintf(fds[2], "sh: %s: Illegal number: %s\n", argv[0], argv[1]);
    return false;
  }
  return true;
}

static int bi_break(int argc, char **argv, const int *fds) {
  int n;
  if (!loop_count(argc, argv, fds, &n)) return 2;
  if (loop_depth == 0) return 0;
  unwinding = !strcmp(argv[0], "break") ? U_BREAK : U_CONTINUE;
  unwind_levels = n < loop_depth ? n : loop_depth;
  return 0;
}

static int bi_return(int argc, char **argv, const int *fds) {
  int status = last_status;
  if (argc > 1 && !parse_int(argv[1], &status)) {
    fdprintf(fds[2], "sh: return: Illegal number: %s\n", argv[1]);
    return 2;
  }
  if (func_depth == 0 && dot_depth == 0) {
    sh_exit(status & 255);
    return status & 255;
  }
  unwinding = U_RETURN;
  unwind_status = status & 255;
  return status & 255;
}

static int bi_eval(int argc, char **argv, const int *fds) {
  (void)fds;
  struct sbuf b = {0};
  sb_add(&b, "", 0);
  for (int i = 1; i < argc; i++) {
    if (i > 1) sb_addc(&b, ' ');
    sb_adds(&b, argv[i]);
  }
  last_status = 0;
  int rc = run_source(b.s, b.len, -1, false, "eval");
  free(b.s);
  return rc;
}

/** read [-r] NAME...: one line from stdin, split on IFS; the last name takes the rest. */
static int bi_read(int argc, char **argv, const int *fds) {
  bool raw = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    if (!strcmp(argv[i], "--")) {
      i++;
      break;
    }
    for (const char *p = argv[i] + 1; *p; p++) {
      if (*p == 'r') raw = true;
      else {
        fdprintf(fds[2], "sh: read: Illegal option -%c\n", *p);
        return 2;
      }
    }
  }
  if (i >= argc) {
    fdprintf(fds[2], "sh: read: arg count\n");
    return 2;
  }
  // the line, with backslash escapes marked: escaped characters are not IFS separators
  struct sbuf line = {0}, lit = {0};
  sb_add(&line, "", 0), sb_add(&lit, "", 0);
  bool eof = false;
  for (;;) {
    char c;
    ssize_t r = read(fds[0], &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      eof = true;
      break;
    }
    if (c == '\n') break;
    if (c == '\\' && !raw) {
      char d;
      r = read(fds[0], &d, 1);
      if (r <= 0) {
        eof = true;
        break;
      }
      if (d == '\n') continue;
      sb_addc(&line, d), sb_addc(&lit, 1);
      continue;
    }
    sb_addc(&line, c), sb_addc(&lit, 0);
  }
  const char *ifs = ifs_chars();
  size_t pos = 0, n = line.len;
  const char *s = line.s;
  #define IS_IFS_WS(k) (!lit.s[k] && strchr(ifs, s[k]) && strchr(" \t\n", s[k]))
  #define IS_IFS(k) (!lit.s[k] && strchr(ifs, s[k]))
  while (pos < n && IS_IFS_WS(pos)) pos++;
  for (; i < argc; i++) {
    if (!valid_name(argv[i], strlen(argv[i]))) {
      fdprintf(fds[2], "sh: read: %s: bad variable name\n", argv[i]);
      free(line.s), free(lit.s);
      return 2;
    }
    size_t start = pos, end;
    if (i == argc - 1) {
      end = n;
      while (end > start && IS_IFS_WS(end - 1)) end--;
      pos = n;
    } else {
      while (pos < n && !IS_IFS(pos)) pos++;
      end = pos;
      // one separator: white space around at most one other IFS character
      while (pos < n && IS_IFS_WS(pos)) pos++;
      if (pos < n && IS_IFS(pos) && !IS_IFS_WS(pos)) {
        pos++;
        while (pos < n && IS_IFS_WS(pos)) pos++;
      }
    }
    char *v = strndup(s + start, end - start);
    if (!v) oom();
    setvar(argv[i], v, -1);
    free(v);
  }
  #undef IS_IFS_WS
  #undef IS_IFS
  free(line.s), free(lit.s);
  return eof ? 1 : 0;
}

/** trap [ACTION CONDITION...]: EXIT (0) runs ACTION when the shell ends; WASI has no signals. */
static int bi_trap(int argc, char **argv, const int *fds) {
  if (argc == 1) {
    if (exit_trap) {
      struct sbuf o = {0};
      sb_adds(&o, "trap -- ");
      print_quoted(&o, exit_trap);
      sb_adds(&o, " EXIT\n");
      fdputs(fds[1], o.s);
      free(o.s);
    }
    return 0;
  }
  int i = 1;
  if (!strcmp(argv[i], "--")) i++;
  if (i >= argc) return 0;
  const char *action = argv[i++];
  bool reset = !strcmp(action, "-");
  if (i >= argc) {
    // one operand that is a condition resets it, as POSIX allows
    i--;
    reset = true;
  }
  static const char *const sigs[] = {"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
                                      "USR2", "PIPE", "ALRM", "TERM", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU"};
  int rc = 0;
  for (; i < argc; i++) {
    const char *c = argv[i];
    if (!strncmp(c, "SIG", 3)) c += 3;
    if (!strcmp(c, "EXIT") || !strcmp(c, "0")) {
      free(exit_trap);
      exit_trap = reset ? NULL : xstrdup(action);
      continue;
    }
    bool known = false;
    int num;
    if (parse_int(c, &num) && num > 0 && num < 32) known = true;
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0] && !known; k++)
      if (!strcmp(c, sigs[k])) known = true;
    if (!known) {
      fdprintf(fds[2], "sh: trap: %s: bad trap\n", argv[i]);
      rc = 1;
    }
    // a signal: accepted, never delivered (WASI has no signals)
  }
  return rc;
}

/** wait [ID...]: waits for background commands ($! names the last); the status is the last one's. */
static int bi_wait(int argc, char **argv, const int *fds) {
  int status = 0;
  if (argc == 1) {
    for (int i = 0; i < nbg; i++)
      if (bg_handles[i] < FAKE_HANDLE) wasmbox_wait(bg_handles[i], &status);
    nbg = 0;
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    int h;
    if (!parse_int(argv[i], &h)) {
      fdprintf(fds[2], "sh: wait: Illegal number: %s\n", argv[i]);
      return 2;
    }
    status = 127;
    for (int k = 0; k < nbg; k++) {
      if (bg_handles[k] != h) continue;
      if (h >= FAKE_HANDLE) status = bg_status[k];
      else if (wasmbox_wait(h, &status) != 0) status = 127;
      memmove(bg_handles + k, bg_handles + k + 1, sizeof(int) * (size_t)(nbg - k - 1));
      memmove(bg_status + k, bg_status + k + 1, sizeof(int) * (size_t)(nbg - k - 1));
      nbg--;
      break;
    }
  }
  return status;
}

/** local NAME[=VALUE]...: the variable is put back as it was when the function returns. */
static int bi_local(int argc, char **argv, const int *fds) {
  if (func_depth == 0) {
    fdprintf(fds[2], "sh: local: not in a function\n");
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    char *name = strndup(argv[i], n);
    if (!name) oom();
    if (!valid_name(name, n)) {
      fdprintf(fds[2], "sh: local: %s: bad variable name\n", argv[i]);
      free(name);
      return 2;
    }
    bool seen = false;
    for (struct local *l = locals; l; l = l->next)
      if (!strcmp(l->name, name)) seen = true;
    if (!seen) {
      struct local *l = xmalloc(sizeof *l);
      struct var *v = findvar(name);
      l->name = xstrdup(name);
      l->was_set = v && v->value;
      l->value = l->was_set ? xstrdup(v->value) : NULL;
      l->exported = v && v->exported;
      l->next = locals;
      locals = l;
    }
    if (eq) setvar(name, eq + 1, -1);
    free(name);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading input: a whole buffer (file, -c), or lines from an fd (stdin, a terminal)

struct source {
  struct sbuf b;
  size_t pos;
  int fd;
  bool interactive, eof;
  int lineno;
  bool intr;  // Ctrl-C at the prompt: the line being read is dropped
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
    if (r < 0 && errno == EINTR) {
      if (!s->interactive) continue;
      // Ctrl-C at the prompt (the terminal has dropped what was typed): a new prompt
      fdputs(2, "\n");
      s->intr = true;
      return false;
    }
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
      if (!src_more(s, false)) {
        if (!s->intr) break;
        s->intr = false;
        last_status = 130;
        continue;
      }
    }
    struct mark m = amark();
    size_t start = s->pos;
    int startline = s->lineno;
    struct node *list;
    bool at_eof;
    for (;;) {
      memset(&P, 0, sizeof P);
      P.buf = s->b.s, P.len = s->b.len, P.pos = start, P.lineno = startline;
      P.final = s->fd < 0 || s->eof;
      list = parse_line(&at_eof);
      if (!P.more) break;
      arelease(m);
      if (!src_more(s, true)) {
        if (s->intr) break;
        s->eof = true;
      }
    }
    if (s->intr) {
      // Ctrl-C in the middle of a command that spans lines: all of it is dropped
      s->intr = false;
      s->b.len = 0, s->pos = 0;
      last_status = 130;
      continue;
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
    else run(list);
    arelease(m);
    if (unwinding == U_INTR && s->interactive) {
      unwinding = U_NONE;
      last_status = 130;
    }
    if (unwinding) break;  // break, continue, return or exit: for an enclosing construct
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

  const char *command = NULL, *prelude = NULL;
  int i = 1, sub_status = 0;
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
    if (!strncmp(a, "--sub=", 6) && i + 1 < argc) {
      // a child shell (run_in_child): the parent's $$, $? and $!, then its state as a prelude
      sscanf(a + 6, "%u,%d,%d", &shell_id, &sub_status, &last_bg);
      prelude = argv[++i];
      continue;
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
  if (prelude) {
    // the parent's variables and functions: set quietly, before the options and $? take effect
    bool e = opt_e, x = opt_x;
    opt_e = opt_x = false;
    run_source((char *)prelude, strlen(prelude), -1, false, "--sub");
    opt_e = e, opt_x = x;
    last_status = sub_status;
  }
  if (command) {
    if (i < argc) arg0 = argv[i++];
    set_params(argc - i, argv + i);
    sh_exit(run_source((char *)command, strlen(command), -1, false, "-c"));
    return last_status;
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
    sh_exit(rc);
    return rc;
  }
  set_params(0, NULL);
  opt_i = force_i || (isatty(0) && isatty(2));
  sh_exit(run_source(NULL, 0, 0, opt_i, "stdin"));
  return 0;
}
