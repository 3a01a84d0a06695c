/*
 * The floor for starting a VM: a plain launch with nothing around it. posix_spawn's the given QEMU
 * argv (which must create a QMP monitor at SOCKET and start paused with -S), connects as soon as the
 * socket accepts, reads the greeting, negotiates capabilities, sends "cont" and polls query-status
 * until it says "running". Then it kills that QEMU (SIGKILL) and reaps it.
 *
 *   start-floor SOCKET TIMEOUT_MS QEMU-BINARY [QEMU-ARG...]
 *
 * With START_FLOOR_SETSID=1 in its environment QEMU is started in its own session (setsid).
 *
 * Prints one machine-readable line:
 *   start-floor spawn_to_running_ms=X
 * On failure prints "start-floor error=WHAT ..." to stderr and exits 1 (3 for a timeout, which the
 * runner reports and retries). Built by the benchmark runner with cc -O2; no binary is checked in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char buffer[1 << 20];
static size_t filled;
static pid_t child = -1;
static double deadline_ms;

static double now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static void stop_child(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
}

static void fail(const char *what, int code)
{
    fprintf(stderr, "start-floor error=%s errno=%d (%s)\n", what, errno, strerror(errno));
    stop_child();
    exit(code);
}

static void check_deadline(void)
{
    if (now_ms() > deadline_ms) {
        errno = ETIMEDOUT;
        fail("timeout", 3);
    }
}

/* Reads one whole line into line (NUL-terminated); waits at most until the deadline. */
static void read_line(int fd, char *line, size_t capacity)
{
    for (;;) {
        char *newline = memchr(buffer, '\n', filled);
        if (newline) {
            size_t length = (size_t)(newline - buffer);
            size_t copied = length < capacity - 1 ? length : capacity - 1;
            memcpy(line, buffer, copied);
            line[copied] = '\0';
            size_t rest = filled - length - 1;
            memmove(buffer, newline + 1, rest);
            filled = rest;
            return;
        }
        check_deadline();
        struct pollfd wait_for = { .fd = fd, .events = POLLIN };
        int ready = poll(&wait_for, 1, (int)(deadline_ms - now_ms()) + 1);
        if (ready < 0 && errno != EINTR)
            fail("poll", 1);
        if (ready <= 0)
            continue;
        ssize_t got = read(fd, buffer + filled, sizeof buffer - filled);
        if (got == 0) {
            errno = 0;
            fail("closed", 1);
        }
        if (got < 0 && errno != EINTR)
            fail("read", 1);
        if (got > 0)
            filled += (size_t)got;
    }
}

/* Reads lines until a reply ("return" or "error"); events in between are skipped. */
static void read_reply(int fd, char *line, size_t capacity)
{
    for (;;) {
        read_line(fd, line, capacity);
        if (strstr(line, "\"error\"")) {
            errno = 0;
            fprintf(stderr, "start-floor error=qmp reply=%s\n", line);
            stop_child();
            exit(1);
        }
        if (strstr(line, "\"return\""))
            return;
    }
}

static void send_line(int fd, const char *text)
{
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t sent = write(fd, text, length);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            fail("write", 1);
        }
        text += sent;
        length -= (size_t)sent;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: start-floor SOCKET TIMEOUT_MS QEMU-BINARY [QEMU-ARG...]\n");
        return 2;
    }
    const char *socket_path = argv[1];
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    strncpy(address.sun_path, socket_path, sizeof address.sun_path - 1);
    unlink(socket_path); /* a killed QEMU leaves its socket file behind */

    double start = now_ms();
    deadline_ms = start + atof(argv[2]);
    /* START_FLOOR_SETSID=1: QEMU gets its own session, as the SDK's does (so that it outlives its
     * starter). With kernel.sched_autogroup_enabled=1 a new session is also a new scheduler group,
     * which changes how a loaded host shares its cores with it (docs/benchmarks.md, issue 17). */
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    const char *own_session = getenv("START_FLOOR_SETSID");
    if (own_session && strcmp(own_session, "1") == 0)
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
    if (posix_spawn(&child, argv[3], NULL, &attributes, &argv[3], environ) != 0)
        fail("spawn", 1);
    posix_spawnattr_destroy(&attributes);

    int fd = -1;
    for (;;) {
        check_deadline();
        int status;
        if (waitpid(child, &status, WNOHANG) == child) {
            child = -1;
            errno = 0;
            fail("qemu-exited", 1);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail("socket", 1);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0)
            break;
        close(fd);
        usleep(200); /* the socket does not exist or does not accept yet */
    }

    char line[65536];
    read_line(fd, line, sizeof line); /* the greeting */
    send_line(fd, "{\"execute\":\"qmp_capabilities\"}\n");
    read_reply(fd, line, sizeof line);
    send_line(fd, "{\"execute\":\"cont\"}\n");
    read_reply(fd, line, sizeof line);
    for (;;) {
        send_line(fd, "{\"execute\":\"query-status\"}\n");
        read_reply(fd, line, sizeof line);
        if (strstr(line, "\"running\": true") || strstr(line, "\"running\":true"))
            break;
    }
    double elapsed = now_ms() - start;
    close(fd);
    stop_child();
    printf("start-floor spawn_to_running_ms=%.2f\n", elapsed);
    return 0;
}
