// wasmbox-runtime, the native front end of the OCI runtime (trusted; runs as the engine's user, root).
//
// Engines start their runtime for every step of a container's life: containerd's shim runs
// `create`, `start`, `delete` and `delete --force` for one `ctr run --rm`, and a Node process costs
// 60-100 ms to start on a small VM, several times runc's whole call. So this small program answers
// the calls an engine makes most, `create`, `start`, `kill` and `delete`, and hands every other call,
// flag or case it does not know exactly to the full runtime (`node host/oci.js` with the same
// arguments), which defines the behaviour: this file only repeats it for the fast path.
//
//   create   starts the container's process (node dist/oci-sandbox.js create ...: it checks the
//            bundle, sets the sandbox up, writes the state, and logs its own errors), with a
//            pseudo-terminal when there is a console socket, and waits for its "ready" or "error"
//            on a pipe; sends the terminal's master to the console socket (SCM_RIGHTS)
//   start    sends {"op":"start"} on the container's control socket and reads the reply
//   kill     signals the container's process (with --all, its exec proxies too)
//   delete   kills what runs (--force), removes the filestore files and the state directory
//
// It reads the plain-text files of the state directory (host/oci/state.ts documents them): `pid`
// ("PID STARTTIME"), `files`, `started`, `paused`, `hooks` (present: start and delete run hooks, so
// they go to the full runtime). Errors: one line on stderr, and one line in --log (json or text).
// Where the runtime lives: found from /proc/self/exe (the project's dist/ or native/build/);
// Node: $WASMBOX_NODE, else the node that built this program (NODE_EXEC, from the build), else PATH.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// node_exec.h (written by build.js, not in git) defines NODE_EXEC, the node that built this program
#if __has_include("node_exec.h")
#include "node_exec.h"
#endif
#ifndef NODE_EXEC
#define NODE_EXEC ""
#endif
#include "ptyfd.h"

static const char *PROG = "wasmbox-runtime";
static const char *JSPI_FLAG = "--experimental-wasm-stack-switching";

// global flags
static const char *g_root = "/run/wasmbox";
static const char *g_log = NULL;
static bool g_json = false;
static bool g_debug = false;
static char **g_argv; // the whole command line, for handing over

// ---------------------------------------------------------------------------------------------
// Handing over to the full runtime, and errors

static char project[PATH_MAX]; // the directory holding host/oci.js

static bool find_project(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = 0;
  for (int up = 0; up < 5; up++) {
    char *slash = strrchr(exe, '/');
    if (!slash || slash == exe) return false;
    *slash = 0;
    char probe[PATH_MAX];
    if (snprintf(probe, sizeof probe, "%s/host/oci.js", exe) >= (int)sizeof probe) return false;
    if (access(probe, R_OK) == 0) {
      snprintf(project, sizeof project, "%s", exe);
      return true;
    }
  }
  return false;
}

static const char *node_path(void) {
  static char found[PATH_MAX];
  const char *env = getenv("WASMBOX_NODE");
  if (env && *env && access(env, X_OK) == 0) return env;
  if (NODE_EXEC[0] && access(NODE_EXEC, X_OK) == 0) return NODE_EXEC;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchrnul(path, ':');
    if (snprintf(found, sizeof found, "%.*s/node", (int)(end - path), path) < (int)sizeof found && access(found, X_OK) == 0) return found;
    path = *end ? end + 1 : end;
  }
  return "node";
}

/** Runs the full runtime with the same arguments (never returns). */
static void hand_over(void) {
  char oci[PATH_MAX + 16];
  snprintf(oci, sizeof oci, "%s/host/oci.js", project);
  int argc = 0;
  while (g_argv[argc]) argc++;
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) _exit(1);
  args[0] = (char *)node_path();
  args[1] = oci;
  for (int i = 1; i < argc; i++) args[i + 1] = g_argv[i];
  unsetenv("NODE_EXTRA_CA_CERTS"); // the runtime makes no TLS connections; loading them costs ~35 ms
  execv(args[0], args);
  execvp("node", args);
  fprintf(stderr, "%s: cannot run node for %s: %s\n", PROG, oci, strerror(errno));
  _exit(1);
}

static void json_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
}

static void log_line(const char *level, const char *msg) {
  if (!g_log || !*g_log) return;
  FILE *f = fopen(g_log, "a");
  if (!f) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  if (g_json) {
    fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
    json_escape(f, msg);
    fprintf(f, "\",\"time\":\"%s.%03ldZ\"}\n", when, (long)(tv.tv_usec / 1000));
  } else {
    fprintf(f, "time=\"%s.%03ldZ\" level=%s msg=\"", when, (long)(tv.tv_usec / 1000), level);
    json_escape(f, msg);
    fputs("\"\n", f);
  }
  fclose(f);
}

/** One error line on stderr and in the log; status 1. `logged`: the container's process logged it. */
static int fail_(bool logged, const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!logged) log_line("error", msg);
  fprintf(stderr, "%s: %s\n", PROG, msg);
  return 1;
}
#define fail(...) fail_(false, __VA_ARGS__)

// ---------------------------------------------------------------------------------------------
// The state directory

static char sdir[PATH_MAX];

static bool valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 1024) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || !strchr("_+.-", c))) return false;
  }
  return true;
}

static bool state_path(char *out, size_t size, const char *name) {
  return snprintf(out, size, "%s/%s", sdir, name) < (int)size;
}

static bool has(const char *name) {
  char p[PATH_MAX];
  return state_path(p, sizeof p, name) && access(p, F_OK) == 0;
}

/** Reads a small file whole into buf, NUL-terminated; false if it cannot be read or is empty. */
static bool read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}

/** Field 22 of /proc/PID/stat, and whether the process is neither a zombie nor dead. */
static bool proc_start(long pid, char *start, size_t size) {
  char p[64], buf[4096];
  snprintf(p, sizeof p, "/proc/%ld/stat", pid);
  if (!read_small(p, buf, sizeof buf)) return false;
  char *s = strrchr(buf, ')');
  if (!s || s[1] != ' ') return false;
  s += 2; // field 3, the state
  if (*s == 'Z' || *s == 'X') return false;
  for (int field = 3; field < 22 && s; field++) {
    s = strchr(s, ' ');
    if (s) s++;
  }
  if (!s) return false;
  size_t len = strcspn(s, " ");
  if (len >= size) return false;
  memcpy(start, s, len);
  start[len] = 0;
  return true;
}

static bool alive(long pid, const char *start) {
  char now[32];
  return pid > 0 && proc_start(pid, now, sizeof now) && (!*start || strcmp(now, start) == 0);
}

/** The container's pid and start time, from its pid file; false when there is none. */
static bool read_pid(long *pid, char *start, size_t size) {
  char p[PATH_MAX], buf[128];
  if (!state_path(p, sizeof p, "pid") || !read_small(p, buf, sizeof buf)) return false;
  char *end;
  *pid = strtol(buf, &end, 10);
  if (*end != ' ') return false;
  size_t len = strcspn(end + 1, " \n");
  if (len >= size) return false;
  memcpy(start, end + 1, len);
  start[len] = 0;
  return *pid > 0;
}

enum status { ST_MISSING, ST_CREATED, ST_RUNNING, ST_PAUSED, ST_STOPPED };
static const char *STATUS[] = {"missing", "created", "running", "paused", "stopped"};

static enum status status_of(long *pid, char *start, size_t size) {
  if (!has("state.json") || !read_pid(pid, start, size)) return ST_MISSING;
  if (!alive(*pid, start)) return ST_STOPPED;
  if (has("paused")) return ST_PAUSED;
  return has("started") ? ST_RUNNING : ST_CREATED;
}

/** Calls fn(pid) for every live exec proxy (execs/PID-STARTTIME). */
static void each_exec(void (*fn)(long, int), int arg) {
  char p[PATH_MAX];
  if (!state_path(p, sizeof p, "execs")) return;
  DIR *d = opendir(p);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *dash = strchr(e->d_name, '-');
    if (!dash) continue;
    long pid = strtol(e->d_name, NULL, 10);
    if (alive(pid, dash + 1)) fn(pid, arg);
  }
  closedir(d);
}

static void send_signal(long pid, int sig) {
  kill((pid_t)pid, sig);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP) rmdir(path);
  else unlink(path);
  return 0;
}

/** Removes the host files the sandbox listed, then the state directory. */
static void remove_state(void) {
  char p[PATH_MAX];
  if (state_path(p, sizeof p, "files")) {
    FILE *f = fopen(p, "r");
    if (f) {
      char line[PATH_MAX];
      while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '/') unlink(line);
      }
      fclose(f);
    }
  }
  nftw(sdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// ---------------------------------------------------------------------------------------------
// Commands

/** One flag of argv[*i] (-name or --name, with =value or the next argument as its value). */
struct flag {
  const char *name;
  size_t len;
  const char *val; // NULL when there is none
  bool inline_val;
};

static struct flag flag_at(char **argv, int argc, int i) {
  const char *a = argv[i];
  struct flag f = {.name = a + (a[1] == '-' ? 2 : 1)};
  const char *eq = strchr(f.name, '=');
  f.len = eq ? (size_t)(eq - f.name) : strlen(f.name);
  f.inline_val = eq != NULL;
  f.val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
  return f;
}

static bool is(const struct flag *f, const char *s) {
  return f->len == strlen(s) && !strncmp(f->name, s, f->len);
}

/** The flag's value, taking the next argument if it is not inline; hands over when there is none. */
static const char *value_of(const struct flag *f, int *i) {
  if (!f->val) hand_over();
  if (!f->inline_val) (*i)++;
  return f->val;
}

static int cmd_kill(int argc, char **argv) {
  bool all = false;
  int i = 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a") || !strcmp(argv[i], "-all")) all = true;
    else hand_over();
  }
  if (argc - i < 1 || argc - i > 2 || !valid_id(argv[i])) hand_over();
  static const struct { const char *name; int n; } sigs[] = {
      {"HUP", 1}, {"INT", 2}, {"QUIT", 3}, {"KILL", 9}, {"USR1", 10}, {"USR2", 12}, {"TERM", 15}, {"CONT", 18}, {"STOP", 19}, {"WINCH", 28},
  };
  int sig = 15;
  if (argc - i == 2) {
    const char *s = argv[i + 1];
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end) sig = (int)n;
    else {
      if (!strncasecmp(s, "SIG", 3)) s += 3;
      sig = 0;
      for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        if (!strcasecmp(s, sigs[k].name)) sig = sigs[k].n;
    }
    if (sig < 1 || sig > 64) hand_over(); // a name this table lacks, or a bad one: the full runtime says
  }
  if (snprintf(sdir, sizeof sdir, "%s/%s", g_root, argv[i]) >= (int)sizeof sdir) hand_over();
  long pid;
  char start[32];
  enum status st = status_of(&pid, start, sizeof start);
  if (st == ST_MISSING) return fail("container \"%s\" does not exist", argv[i]);
  if (st == ST_STOPPED) return fail("container not running");
  if (all) each_exec(send_signal, sig);
  if (kill((pid_t)pid, sig) != 0 && errno != ESRCH) return fail("kill %ld: %s", pid, strerror(errno));
  return 0;
}

static int cmd_delete(int argc, char **argv) {
  bool force = false;
  int i = 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f") || !strcmp(argv[i], "-force")) force = true;
    else hand_over();
  }
  if (argc - i != 1 || !valid_id(argv[i])) hand_over();
  if (snprintf(sdir, sizeof sdir, "%s/%s", g_root, argv[i]) >= (int)sizeof sdir) hand_over();
  if (has("hooks")) hand_over(); // poststop hooks: the full runtime runs them
  long pid;
  char start[32];
  enum status st = status_of(&pid, start, sizeof start);
  if (st == ST_MISSING) {
    nftw(sdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); // an aborted create
    return force ? 0 : fail("container \"%s\" does not exist", argv[i]);
  }
  if ((st == ST_RUNNING || st == ST_PAUSED) && !force) return fail("cannot delete container %s that is not stopped: %s", argv[i], STATUS[st]);
  if (st != ST_STOPPED) {
    each_exec(send_signal, SIGKILL);
    kill((pid_t)pid, SIGKILL);
    for (int waited = 0; alive(pid, start); waited += 10) {
      if (waited > 10000) return fail("container %s: its process %ld did not end after SIGKILL", argv[i], pid);
      usleep(10000);
    }
  }
  remove_state();
  return 0;
}

/** Connects to the control socket (through the state directory's fd when its path is long). */
static int connect_control(void) {
  char p[PATH_MAX];
  if (!state_path(p, sizeof p, "ctl.sock")) return -1;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  int dirfd = -1;
  if (strlen(p) >= sizeof a.sun_path) {
    dirfd = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -1;
    snprintf(p, sizeof p, "/proc/self/fd/%d/ctl.sock", dirfd);
  }
  snprintf(a.sun_path, sizeof a.sun_path, "%s", p);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int r = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  if (dirfd >= 0) close(dirfd);
  if (r != 0) {
    if (s >= 0) close(s);
    errno = e;
    return -1;
  }
  return s;
}

static bool read_full(int fd, void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, (char *)buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += (size_t)r;
  }
  return true;
}

static int cmd_start(int argc, char **argv) {
  if (argc != 1 || argv[0][0] == '-' || !valid_id(argv[0])) hand_over();
  if (snprintf(sdir, sizeof sdir, "%s/%s", g_root, argv[0]) >= (int)sizeof sdir) hand_over();
  if (has("hooks")) hand_over(); // poststart hooks
  long pid;
  char start[32];
  enum status st = status_of(&pid, start, sizeof start);
  if (st == ST_MISSING) return fail("container \"%s\" does not exist", argv[0]);
  if (st == ST_STOPPED) return fail("cannot start a container that has stopped");
  if (st != ST_CREATED) return fail("cannot start an already %s container", STATUS[st]);
  int s = connect_control();
  if (s < 0) return fail("cannot reach the sandbox of container \"%s\": %s", argv[0], strerror(errno));
  static const char req[] = "{\"op\":\"start\"}";
  unsigned char head[5] = {1, sizeof req - 1, 0, 0, 0};
  if (write(s, head, 5) != 5 || write(s, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) return fail("the sandbox of container \"%s\" closed the connection", argv[0]);
  char body[4096];
  if (!read_full(s, head, 5)) return fail("the sandbox of container \"%s\" closed the connection", argv[0]);
  uint32_t len = (uint32_t)head[1] | (uint32_t)head[2] << 8 | (uint32_t)head[3] << 16 | (uint32_t)head[4] << 24;
  if (head[0] != 2 || len >= sizeof body || !read_full(s, body, len)) return fail("the sandbox sent a bad reply");
  close(s);
  body[len] = 0;
  if (!strcmp(body, "{\"ok\":true}")) return 0;
  // {"ok":false,"error":"...","status":N}: the message, its \" and \\ unescaped
  char *e = strstr(body, "\"error\":\"");
  if (!e) return fail("the sandbox sent a bad reply");
  char msg[4096];
  size_t m = 0;
  for (e += 9; *e && *e != '"' && m < sizeof msg - 1; e++) msg[m++] = (*e == '\\' && e[1]) ? *++e : *e;
  msg[m] = 0;
  return fail("%s", msg);
}

/** `path` made absolute against `cwd` ("" stays ""); false if it does not fit. */
static bool absolute(char *out, size_t size, const char *cwd, const char *path) {
  int n = !*path ? snprintf(out, size, "%s", "") : path[0] == '/' ? snprintf(out, size, "%s", path) : snprintf(out, size, "%s/%s", cwd, path);
  return n >= 0 && (size_t)n < size;
}

static int cmd_create(int argc, char **argv) {
  const char *bundle = ".", *pid_file = "", *console = NULL, *id = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      if (id) hand_over();
      id = a;
      continue;
    }
    struct flag f = flag_at(argv, argc, i);
    if (is(&f, "bundle") || is(&f, "b")) bundle = value_of(&f, &i);
    else if (is(&f, "pid-file")) pid_file = value_of(&f, &i);
    else if (is(&f, "console-socket")) console = value_of(&f, &i);
    else if (is(&f, "preserve-fds")) {
      if (strcmp(value_of(&f, &i), "0") != 0) hand_over(); // fds to keep: the full runtime decides
    } else if (!(is(&f, "no-pivot") || is(&f, "no-new-keyring"))) hand_over();
  }
  if (!id || !valid_id(id)) hand_over();
  char cwd[PATH_MAX], abs_bundle[PATH_MAX], abs_pid[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return fail("getcwd: %s", strerror(errno));
  if (!absolute(abs_bundle, sizeof abs_bundle, cwd, bundle) || !absolute(abs_pid, sizeof abs_pid, cwd, pid_file)) hand_over();
  int master = -1, slave = -1;
  char tty[64];
  const char *step = NULL;
  if (console && pty_open(&master, &slave, tty, sizeof tty, &step) != 0) return fail("cannot make a pseudo-terminal: %s: %s", step, strerror(errno));
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fail("pipe: %s", strerror(errno));
  char sandbox[PATH_MAX + 32];
  snprintf(sandbox, sizeof sandbox, "%s/dist/oci-sandbox.js", project);
  const char *node = node_path();
  pid_t child = fork();
  if (child < 0) return fail("fork: %s", strerror(errno));
  if (child == 0) {
    // the container's process: a session of its own, stdio the terminal's slave (if any), fd 3 the pipe
    setsid();
    if (slave >= 0) {
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
    }
    dup2(pipefd[1], 3); // dup2 clears close-on-exec on fd 3
    unsetenv("NODE_EXTRA_CA_CERTS");
    char *args[] = {(char *)node, (char *)JSPI_FLAG, sandbox, "create", "--root", (char *)g_root, "--id", (char *)id, "--bundle", abs_bundle, "--pid-file", abs_pid, "--log", (char *)(g_log ? g_log : ""), "--log-format", g_json ? "json" : "text", "--debug", g_debug ? "1" : "0", "--console", console ? "1" : "0", "--foreground", "0", NULL};
    execv(node, args);
    execvp("node", args);
    dprintf(3, "error 1 cannot run node (%s): %s\n", node, strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  if (slave >= 0) close(slave);
  char line[8192];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(pipefd[0], line + got, sizeof line - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
    if (got == sizeof line - 1) break;
  }
  close(pipefd[0]);
  line[got] = 0;
  line[strcspn(line, "\n")] = 0;
  if (strncmp(line, "ready", 5) != 0) {
    if (master >= 0) close(master);
    int ws = 0;
    waitpid(child, &ws, 0);
    if (!strncmp(line, "error ", 6)) {
      char *msg = strchr(line + 6, ' ');
      return fail_(true, "%s", msg ? msg + 1 : line + 6);
    }
    return fail("the sandbox exited before it was ready (%d)", WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
  }
  if (master >= 0) {
    bool ok = fd_send(console, master, tty, strlen(tty), &step) == 0;
    int e = errno;
    close(master);
    if (!ok) {
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      snprintf(sdir, sizeof sdir, "%s/%s", g_root, id);
      remove_state();
      return fail("cannot send the terminal to the console socket %s: %s", console, strerror(e));
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
  g_argv = argv;
  if (!find_project()) {
    fprintf(stderr, "%s: cannot find the wasmbox project (host/oci.js) from this program's location\n", PROG);
    return 1;
  }
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    struct flag f = flag_at(argv, argc, i);
    if (is(&f, "root")) g_root = value_of(&f, &i);
    else if (is(&f, "log")) g_log = value_of(&f, &i);
    else if (is(&f, "log-format")) {
      const char *v = value_of(&f, &i);
      if (strcmp(v, "json") && strcmp(v, "text")) hand_over();
      g_json = !strcmp(v, "json");
    } else if (is(&f, "criu") || is(&f, "rootless")) value_of(&f, &i);
    else if (is(&f, "debug")) g_debug = true;
    else if (!is(&f, "systemd-cgroup")) hand_over(); // --version, --help, and anything new
  }
  if (i >= argc) hand_over();
  // the runtime root is used as given, relative to the working directory as the full runtime does
  char root[PATH_MAX];
  if (g_root[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || snprintf(root, sizeof root, "%s/%s", cwd, g_root) >= (int)sizeof root) hand_over();
    g_root = root;
  }
  const char *cmd = argv[i];
  int rest = argc - i - 1;
  char **args = argv + i + 1;
  if (!strcmp(cmd, "create")) return cmd_create(rest, args);
  if (!strcmp(cmd, "start")) return cmd_start(rest, args);
  if (!strcmp(cmd, "kill")) return cmd_kill(rest, args);
  if (!strcmp(cmd, "delete")) return cmd_delete(rest, args);
  hand_over();
  return 1;
}
