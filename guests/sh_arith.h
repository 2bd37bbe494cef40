// Arithmetic expansion $((...)) for the shell: the evaluator, as dash does it. Header-only and
// included once by sh.c; it knows the shell only through the two callbacks of arith_eval().
//
// Values are intmax_t (64 bits) with C's operators, precedence and associativity:
//   ( )   unary + - ! ~   * / %   + -   << >>   < <= > >=   == !=   &   ^   |   &&   ||   ?:
//   = *= /= %= += -= <<= >>= &= ^= |=   and ++ -- (prefix and postfix, on names).
// && || ?: evaluate only what decides the result: the side they skip is parsed but neither
// assigns nor divides, nor reads a variable (so it cannot fail on one).
// Constants are decimal, octal (leading 0) or hex (0x); one too big for intmax_t becomes
// INTMAX_MAX, as dash's strtoimax() makes it. A bare name stands for its variable's value read as
// a constant (optional sign, surrounding white space allowed; unset or empty is 0) but not as an
// expression: a value that is not a number, or is out of range, is "Illegal number".
// Overflow wraps (two's complement) instead of being undefined, INTMAX_MIN / -1 is INTMAX_MIN
// and INTMAX_MIN % -1 is 0 (dash dies of SIGFPE there), and a shift count is taken modulo 64 as
// x86 does for dash, so 1 << 64 is 1.
//
// dash has no ++ and --: it reads "++x" as +(+x) and "x--1" as x - (-1). Here, as in bash, "++" or
// "--" before a name (white space may come between) increments or decrements it, and after a
// name it is postfix, except when an operand follows it ("x++y", "x--1", "x--(y)"), which bash
// rejects and dash reads as x + +y: that is kept. Elsewhere ("++5", "1--2") they are two signs.
// The comma operator is not supported (dash lacks it too).
//
// Error messages are dash's text after its "sh: 1: " prefix:
//   arithmetic expression: expecting primary: "1 +"   (also expecting EOF, ')' and ':')
//   arithmetic expression: division by zero: "1/0"
//   Illegal number: abc
//   ro: is read only
// and two limits of this evaluator's own, in the first form: "name too long" (over 255 bytes)
// and "nested too deeply".
#ifndef WASMBOX_SH_ARITH_H
#define WASMBOX_SH_ARITH_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// Looks up shell variable `name` (NUL-terminated); returns its value or NULL when unset.
typedef const char *(*arith_get_fn)(const char *name);
// Sets shell variable `name` to `value` (for =, +=, ++ etc.); returns false if it cannot (read-only).
typedef bool (*arith_set_fn)(const char *name, const char *value);

// How many operands, conditionals and assignments may be open inside each other (a parenthesis
// opens two: some 500 levels of them). Deep enough for any expression a person writes; the limit
// keeps "((((...))))" from exhausting the wasm stack, each level being a few recursive calls.
#define ARITH_MAX_DEPTH 1000
// The callbacks want NUL-terminated names and the expression is const: names are copied here.
#define ARITH_NAME_MAX 255

enum arith_tok {
  AT_EOF, AT_BAD, AT_NUM, AT_NAME, AT_LPAREN, AT_RPAREN, AT_QUEST, AT_COLON, AT_NOT, AT_BNOT,
  AT_ASSIGN,  // = and the compound assignments, whose operator is in arith_token.op
  // binary operators
  AT_MUL, AT_DIV, AT_MOD, AT_ADD, AT_SUB, AT_SHL, AT_SHR, AT_LT, AT_LE, AT_GT, AT_GE, AT_EQ, AT_NE,
  AT_BAND, AT_BXOR, AT_BOR, AT_LAND, AT_LOR,
};

struct arith_token {
  enum arith_tok type;
  enum arith_tok op;  // AT_ASSIGN: the operator of a compound assignment, AT_EOF for plain =
  intmax_t num;       // AT_NUM
  const char *name;   // AT_NAME: the name, in the expression (not NUL-terminated)
  size_t len;
};

struct arith {
  const char *expr;  // all of it, for messages
  const char *p;     // where the next token starts
  struct arith_token tok;
  arith_get_fn get;
  arith_set_fn set;
  char *err;
  size_t errlen;
  bool failed;  // once set, the first message stays and nothing more is read or assigned
  int depth;
  char name[ARITH_NAME_MAX + 1];
};

// Longer spellings first, so that "<<=" is not read as "<" "<=" or "<<" "=".
static const struct {
  const char *s;
  enum arith_tok type, op;
} arith_ops[] = {
    {"<<=", AT_ASSIGN, AT_SHL}, {">>=", AT_ASSIGN, AT_SHR}, {"*=", AT_ASSIGN, AT_MUL},
    {"/=", AT_ASSIGN, AT_DIV},  {"%=", AT_ASSIGN, AT_MOD},  {"+=", AT_ASSIGN, AT_ADD},
    {"-=", AT_ASSIGN, AT_SUB},  {"&=", AT_ASSIGN, AT_BAND}, {"^=", AT_ASSIGN, AT_BXOR},
    {"|=", AT_ASSIGN, AT_BOR},  {"<<", AT_SHL, AT_EOF},     {">>", AT_SHR, AT_EOF},
    {"<=", AT_LE, AT_EOF},      {">=", AT_GE, AT_EOF},      {"==", AT_EQ, AT_EOF},
    {"!=", AT_NE, AT_EOF},      {"&&", AT_LAND, AT_EOF},    {"||", AT_LOR, AT_EOF},
    {"<", AT_LT, AT_EOF},       {">", AT_GT, AT_EOF},       {"=", AT_ASSIGN, AT_EOF},
    {"*", AT_MUL, AT_EOF},      {"/", AT_DIV, AT_EOF},      {"%", AT_MOD, AT_EOF},
    {"+", AT_ADD, AT_EOF},      {"-", AT_SUB, AT_EOF},      {"&", AT_BAND, AT_EOF},
    {"^", AT_BXOR, AT_EOF},     {"|", AT_BOR, AT_EOF},      {"!", AT_NOT, AT_EOF},
    {"~", AT_BNOT, AT_EOF},     {"(", AT_LPAREN, AT_EOF},   {")", AT_RPAREN, AT_EOF},
    {"?", AT_QUEST, AT_EOF},    {":", AT_COLON, AT_EOF},
};

static bool arith_is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool arith_is_digit(char c) { return c >= '0' && c <= '9'; }
static bool arith_is_name_char(char c) { return arith_is_name_start(c) || arith_is_digit(c); }
// The expression's white space is dash's; a variable's value may also have C's \v \f \r.
static bool arith_is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }
static bool arith_is_space(char c) { return arith_is_blank(c) || c == '\v' || c == '\f' || c == '\r'; }

static const char *arith_skip_blanks(const char *s) {
  while (arith_is_blank(*s)) s++;
  return s;
}

static int arith_digit_value(char c) {
  if (arith_is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

/**
 * Reads an unsigned constant at s the way strtoimax(s, &end, 0) reads it after the sign: "0x"
 * with a hex digit after it starts hex, another leading 0 octal (so "08" ends after the 0, and
 * "0x" alone is the constant 0 followed by x). Returns the end (s when there is no digit), and in
 * *over whether the value exceeded limit, in which case *u is limit.
 */
static const char *arith_scan_constant(const char *s, uintmax_t limit, uintmax_t *u, bool *over) {
  unsigned base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && arith_digit_value(s[2]) < 16) base = 16, s += 2;
  else if (s[0] == '0') base = 8;
  *u = 0, *over = false;
  for (; arith_digit_value(*s) < (int)base; s++) {
    unsigned d = (unsigned)arith_digit_value(*s);
    if (*over || *u > (limit - d) / base) *over = true, *u = limit;
    else *u = *u * base + d;
  }
  return s;
}

// Two's complement wrap-around, which every compiler we use does for this conversion.
static intmax_t arith_wrap(uintmax_t u) { return (intmax_t)u; }

/** A variable's value as dash's atomax(value, 0) reads it; false when it is not a number. */
static bool arith_parse_value(const char *s, intmax_t *v) {
  const char *p = s;
  while (arith_is_space(*p)) p++;
  bool neg = *p == '-';
  if (*p == '-' || *p == '+') p++;
  uintmax_t u;
  bool over;
  uintmax_t limit = neg ? (uintmax_t)INTMAX_MAX + 1 : (uintmax_t)INTMAX_MAX;
  const char *end = arith_scan_constant(p, limit, &u, &over);
  // strtoimax consumes nothing, not even the white space and sign, when no digit follows them
  if (end == p) end = s;
  while (arith_is_space(*end)) end++;
  if (over || *end) return false;
  *v = arith_wrap(neg ? 0 - u : u);
  return true;
}

static void arith_fail(struct arith *a, const char *fmt, ...) {
  if (a->failed) return;
  a->failed = true;
  if (!a->err || !a->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->err, a->errlen, fmt, ap);
  va_end(ap);
}

/** dash's yyerror: the problem, then the whole expression. */
static void arith_syntax(struct arith *a, const char *what) {
  arith_fail(a, "arithmetic expression: %s: \"%s\"", what, a->expr);
}

static void arith_next(struct arith *a) {
  struct arith_token *t = &a->tok;
  const char *s = arith_skip_blanks(a->p);
  t->op = AT_EOF;
  if (!*s) {
    t->type = AT_EOF;
  } else if (arith_is_digit(*s)) {
    uintmax_t u;
    bool over;
    s = arith_scan_constant(s, INTMAX_MAX, &u, &over);
    t->type = AT_NUM, t->num = (intmax_t)u;
  } else if (arith_is_name_start(*s)) {
    t->type = AT_NAME, t->name = s;
    while (arith_is_name_char(*s)) s++;
    t->len = (size_t)(s - t->name);
  } else {
    t->type = AT_BAD;
    for (size_t i = 0; i < sizeof arith_ops / sizeof arith_ops[0]; i++) {
      size_t n = strlen(arith_ops[i].s);
      if (!strncmp(s, arith_ops[i].s, n)) {
        t->type = arith_ops[i].type, t->op = arith_ops[i].op;
        s += n;
        break;
      }
    }
  }
  a->p = s;
}

/** Copies the name for the callbacks; false (and an error) when it does not fit. */
static bool arith_name(struct arith *a, const char *name, size_t len) {
  if (len > ARITH_NAME_MAX) {
    arith_syntax(a, "name too long");
    return false;
  }
  memcpy(a->name, name, len);
  a->name[len] = 0;
  return true;
}

static intmax_t arith_lookup(struct arith *a, const char *name, size_t len) {
  if (a->failed || !arith_name(a, name, len)) return 0;
  const char *s = a->get(a->name);
  intmax_t v = 0;
  if (s && !arith_parse_value(s, &v)) arith_fail(a, "Illegal number: %s", s);
  return v;
}

static void arith_store(struct arith *a, const char *name, size_t len, intmax_t v) {
  if (a->failed || !arith_name(a, name, len)) return;
  char num[24];  // "-9223372036854775808"
  snprintf(num, sizeof num, "%jd", v);
  if (!a->set(a->name, num)) arith_fail(a, "%s: is read only", a->name);
}

static intmax_t arith_apply(struct arith *a, enum arith_tok op, intmax_t l, intmax_t r) {
  uintmax_t ul = (uintmax_t)l, ur = (uintmax_t)r;
  switch (op) {
  case AT_MUL: return arith_wrap(ul * ur);
  case AT_DIV:
  case AT_MOD:
    if (r == 0) {
      arith_syntax(a, "division by zero");
      return 0;
    }
    // INTMAX_MIN / -1 overflows (a trap on x86 and in wasm); x / -1 is -x, x % -1 is 0
    if (r == -1) return op == AT_DIV ? arith_wrap(0 - ul) : 0;
    return op == AT_DIV ? l / r : l % r;
  case AT_ADD: return arith_wrap(ul + ur);
  case AT_SUB: return arith_wrap(ul - ur);
  case AT_SHL: return arith_wrap(ul << (r & 63));
  case AT_SHR: return l >> (r & 63);  // arithmetic shift for negative l, as compilers do
  case AT_LT: return l < r;
  case AT_LE: return l <= r;
  case AT_GT: return l > r;
  case AT_GE: return l >= r;
  case AT_EQ: return l == r;
  case AT_NE: return l != r;
  case AT_BAND: return l & r;
  case AT_BXOR: return l ^ r;
  case AT_BOR: return l | r;
  case AT_LAND: return l && r;
  case AT_LOR: return l || r;
  default: return 0;
  }
}

/** The binding strength of a binary operator; 0 for other tokens. */
static int arith_prec(enum arith_tok t) {
  switch (t) {
  case AT_MUL: case AT_DIV: case AT_MOD: return 10;
  case AT_ADD: case AT_SUB: return 9;
  case AT_SHL: case AT_SHR: return 8;
  case AT_LT: case AT_LE: case AT_GT: case AT_GE: return 7;
  case AT_EQ: case AT_NE: return 6;
  case AT_BAND: return 5;
  case AT_BXOR: return 4;
  case AT_BOR: return 3;
  case AT_LAND: return 2;
  case AT_LOR: return 1;
  default: return 0;
  }
}

static bool arith_enter(struct arith *a) {
  if (a->depth >= ARITH_MAX_DEPTH) {
    arith_syntax(a, "nested too deeply");
    return false;
  }
  a->depth++;
  return true;
}

static intmax_t arith_assign(struct arith *a, bool noeval);

/**
 * A name's ++ or -- (step +1 or -1): its new value when prefix, its old one when postfix. The
 * name has been read; the current token is what follows the operator.
 */
static intmax_t arith_step(struct arith *a, const char *name, size_t len, int step, bool prefix,
                           bool noeval) {
  if (noeval) return 0;
  intmax_t old = arith_lookup(a, name, len);
  intmax_t v = arith_wrap((uintmax_t)old + (uintmax_t)(intmax_t)step);
  arith_store(a, name, len, v);
  return prefix ? v : old;
}

/**
 * Whether the current + or - token is the first half of a postfix ++ or --: the second half
 * follows at once and no operand comes after it (then it is dash's x + +y).
 */
static bool arith_postfix(struct arith *a) {
  char c = a->tok.type == AT_ADD ? '+' : a->tok.type == AT_SUB ? '-' : 0;
  if (!c || *a->p != c) return false;
  const char *s = arith_skip_blanks(a->p + 1);
  bool operand = arith_is_name_char(*s) || *s == '(' || *s == '~' || (*s == '!' && s[1] != '=');
  return !operand;
}

/** Whether the current + or - token is the first half of a prefix ++ or -- on a name. */
static bool arith_prefix(struct arith *a) {
  char c = a->tok.type == AT_ADD ? '+' : '-';
  return *a->p == c && arith_is_name_start(*arith_skip_blanks(a->p + 1));
}

/** An operand: a constant, a name, a parenthesised expression, or one under a unary operator. */
static intmax_t arith_unary(struct arith *a, bool noeval) {
  if (!arith_enter(a)) return 0;
  intmax_t v = 0;
  enum arith_tok t = a->tok.type;
  switch (t) {
  case AT_LPAREN:
    arith_next(a);
    v = arith_assign(a, noeval);
    if (a->tok.type != AT_RPAREN) arith_syntax(a, "expecting ')'");
    else arith_next(a);
    break;
  case AT_NUM:
    v = a->tok.num;
    arith_next(a);
    break;
  case AT_NAME: {
    const char *name = a->tok.name;
    size_t len = a->tok.len;
    arith_next(a);
    if (arith_postfix(a)) {
      int step = a->tok.type == AT_ADD ? 1 : -1;
      a->p++;
      arith_next(a);
      v = arith_step(a, name, len, step, false, noeval);
    } else if (!noeval) {
      v = arith_lookup(a, name, len);
    }
    break;
  }
  case AT_ADD:
  case AT_SUB:
    if (arith_prefix(a)) {
      a->p++;
      arith_next(a);
      const char *name = a->tok.name;
      size_t len = a->tok.len;
      arith_next(a);
      v = arith_step(a, name, len, t == AT_ADD ? 1 : -1, true, noeval);
      break;
    }
    arith_next(a);
    v = arith_unary(a, noeval);
    if (t == AT_SUB) v = arith_wrap(0 - (uintmax_t)v);
    break;
  case AT_NOT:
    arith_next(a);
    v = !arith_unary(a, noeval);
    break;
  case AT_BNOT:
    arith_next(a);
    v = ~arith_unary(a, noeval);
    break;
  default: arith_syntax(a, "expecting primary"); break;
  }
  a->depth--;
  return v;
}

/**
 * Binary operators binding at least as tightly as minprec, left to right (precedence climbing).
 * The right operand of && and || is evaluated only when it decides the result.
 */
static intmax_t arith_binary(struct arith *a, int minprec, bool noeval) {
  intmax_t l = arith_unary(a, noeval);
  for (;;) {
    enum arith_tok op = a->tok.type;
    int prec = arith_prec(op);
    if (a->failed || !prec || prec < minprec) return l;
    arith_next(a);
    bool skip = noeval || (op == AT_LAND && !l) || (op == AT_LOR && l);
    intmax_t r = arith_binary(a, prec + 1, skip);
    // a skipped side cannot change the result of && or ||, whatever it returned
    if (op == AT_LAND || op == AT_LOR || !noeval) l = arith_apply(a, op, l, r);
  }
}

/** cond ? expr : cond, evaluating only the chosen branch. */
static intmax_t arith_cond(struct arith *a, bool noeval) {
  if (!arith_enter(a)) return 0;
  intmax_t c = arith_binary(a, 1, noeval);
  if (a->tok.type == AT_QUEST && !a->failed) {
    arith_next(a);
    intmax_t yes = arith_assign(a, noeval || !c);
    if (a->tok.type != AT_COLON) {
      arith_syntax(a, "expecting ':'");
    } else {
      arith_next(a);
      intmax_t no = arith_cond(a, noeval || c);
      c = c ? yes : no;
    }
  }
  a->depth--;
  return c;
}

/**
 * NAME op= expr (right to left), else a conditional expression. As in dash, the right side is
 * evaluated before a compound assignment reads the variable, so x += (x = 1) is 2.
 */
static intmax_t arith_assign(struct arith *a, bool noeval) {
  if (a->tok.type != AT_NAME) return arith_cond(a, noeval);
  struct arith_token peek = a->tok;
  const char *after = a->p;
  arith_next(a);
  if (a->tok.type != AT_ASSIGN) {
    a->tok = peek, a->p = after;
    return arith_cond(a, noeval);
  }
  if (!arith_enter(a)) return 0;
  enum arith_tok op = a->tok.op;
  arith_next(a);
  intmax_t v = arith_assign(a, noeval);
  if (!noeval && !a->failed) {
    if (op != AT_EOF) v = arith_apply(a, op, arith_lookup(a, peek.name, peek.len), v);
    arith_store(a, peek.name, peek.len, v);
  }
  a->depth--;
  return v;
}

// Evaluates expr (already parameter-expanded by the shell: "$x" replaced by text; bare names remain).
// On success returns true and stores the value in *out. On error returns false and writes a message
// such as "arithmetic expression: expecting primary: \"1 +\"" or "Illegal number: abc" into err (size
// errlen): dash's whole message, to be printed after the shell's own "sh: " prefix.
static bool arith_eval(const char *expr, intmax_t *out, arith_get_fn get, arith_set_fn set, char *err,
                       size_t errlen) {
  struct arith a = {.expr = expr, .p = expr, .get = get, .set = set, .err = err, .errlen = errlen};
  arith_next(&a);
  intmax_t v = arith_assign(&a, false);
  if (a.tok.type != AT_EOF) arith_syntax(&a, "expecting EOF");
  if (a.failed) return false;
  *out = v;
  return true;
}

#endif
