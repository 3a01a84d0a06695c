/*
 * The floor for a live migration between two hosts: QEMU's own migration driven with nothing around it.
 * The caller has started two QEMUs with the same argv: the source paused (-S) with its monitor at SRC_QMP,
 * the destination with "-incoming defer" and its monitor at DST_QMP. This tool resumes the source, waits
 * until the guest printed MARKER into SRC_SERIAL_LOG (so the guest runs, as a migrated VM's does), then:
 * with TLS, adds a tls-creds-x509 object on both sides (server with verify-peer on the destination, client
 * on the source, the certificate directories in QEMU's layout) and sets them as the migration's tls-creds;
 * optionally sets a downtime limit; starts the destination's listener on ADDRESS:PORT and the source's
 * migration to it; polls the source's query-migrate every 5 ms until "completed".
 *
 *   migrate-floor SRC_QMP DST_QMP SRC_SERIAL_LOG MARKER ADDRESS PORT SRC_TLS_DIR|- DST_TLS_DIR|- TLS_HOSTNAME
 *                 DOWNTIME_LIMIT_MS|0 TIMEOUT_MS
 *
 * Prints one machine-readable line with QEMU's own figures from the source:
 *   migrate-floor total_ms=X downtime_ms=Y setup_ms=Z
 * On failure prints "migrate-floor error=WHAT ..." to stderr and exits 1 (3 for a timeout). It kills
 * nothing: the caller owns both QEMUs. Built by the benchmark runner with cc -O2; no binary is checked in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct monitor {
    int fd;
    char buffer[1 << 20];
    size_t filled;
};

static struct monitor source, destination;
static double deadline_ms;
static char line[1 << 20];

static double now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static void fail(const char *what, int code)
{
    fprintf(stderr, "migrate-floor error=%s errno=%d (%s)\n", what, errno, strerror(errno));
    exit(code);
}

static void check_deadline(void)
{
    if (now_ms() > deadline_ms) {
        errno = ETIMEDOUT;
        fail("timeout", 3);
    }
}

static void sleep_ms(long ms)
{
    struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&pause, NULL);
}

/* Connects as soon as the monitor's socket exists and QEMU listens on it. */
static void connect_monitor(struct monitor *monitor, const char *path)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    for (;;) {
        check_deadline();
        monitor->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (monitor->fd < 0)
            fail("socket", 1);
        if (connect(monitor->fd, (struct sockaddr *)&address, sizeof address) == 0)
            return;
        if (errno != ENOENT && errno != ECONNREFUSED)
            fail("connect", 1);
        close(monitor->fd);
        sleep_ms(1);
    }
}

/* Reads one whole line (NUL-terminated) into the shared line buffer. */
static void read_line(struct monitor *monitor)
{
    for (;;) {
        char *newline = memchr(monitor->buffer, '\n', monitor->filled);
        if (newline) {
            size_t length = (size_t)(newline - monitor->buffer);
            memcpy(line, monitor->buffer, length);
            line[length] = '\0';
            monitor->filled -= length + 1;
            memmove(monitor->buffer, newline + 1, monitor->filled);
            return;
        }
        check_deadline();
        struct pollfd wait_for = { .fd = monitor->fd, .events = POLLIN };
        int ready = poll(&wait_for, 1, (int)(deadline_ms - now_ms()) + 1);
        if (ready < 0 && errno != EINTR)
            fail("poll", 1);
        if (ready <= 0)
            continue;
        ssize_t got = read(monitor->fd, monitor->buffer + monitor->filled, sizeof monitor->buffer - monitor->filled);
        if (got == 0) {
            errno = 0;
            fail("closed", 1);
        }
        if (got < 0 && errno != EINTR)
            fail("read", 1);
        if (got > 0)
            monitor->filled += (size_t)got;
    }
}

/* Sends one command and reads until its reply; events in between are skipped. */
static void execute(struct monitor *monitor, const char *command)
{
    size_t length = strlen(command);
    const char *text = command;
    while (length > 0) {
        ssize_t sent = write(monitor->fd, text, length);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            fail("write", 1);
        }
        text += sent;
        length -= (size_t)sent;
    }
    for (;;) {
        read_line(monitor);
        if (strstr(line, "\"error\"")) {
            fprintf(stderr, "migrate-floor error=qmp command=%s reply=%s\n", command, line);
            exit(1);
        }
        if (strstr(line, "\"return\""))
            return;
    }
}

static void handshake(struct monitor *monitor, const char *path)
{
    connect_monitor(monitor, path);
    read_line(monitor); /* the greeting */
    execute(monitor, "{\"execute\":\"qmp_capabilities\"}\n");
}

static int file_contains(const char *path, const char *text)
{
    static char contents[1 << 20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, contents, sizeof contents - 1);
    close(fd);
    if (got <= 0)
        return 0;
    contents[got] = '\0';
    return strstr(contents, text) != NULL;
}

/* The number after "KEY": in the last line read. */
static double number_after(const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(line, quoted);
    return at ? atof(at + strlen(quoted)) : -1;
}

int main(int argc, char **argv)
{
    if (argc != 12) {
        fprintf(stderr, "usage: migrate-floor SRC_QMP DST_QMP SRC_SERIAL_LOG MARKER ADDRESS PORT SRC_TLS_DIR|- DST_TLS_DIR|- TLS_HOSTNAME DOWNTIME_LIMIT_MS|0 TIMEOUT_MS\n");
        return 2;
    }
    const char *address = argv[5], *port = argv[6], *source_tls = argv[7], *destination_tls = argv[8], *tls_hostname = argv[9];
    long downtime_limit = atol(argv[10]);
    deadline_ms = now_ms() + atof(argv[11]);
    char command[4096];

    handshake(&source, argv[1]);
    handshake(&destination, argv[2]);
    execute(&source, "{\"execute\":\"cont\"}\n");
    while (!file_contains(argv[3], argv[4])) {
        check_deadline();
        sleep_ms(5);
    }

    if (strcmp(source_tls, "-") != 0) {
        snprintf(command, sizeof command, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"tls-creds-x509\",\"id\":\"floor-tls\",\"dir\":\"%s\",\"endpoint\":\"server\",\"verify-peer\":true}}\n", destination_tls);
        execute(&destination, command);
        execute(&destination, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"tls-creds\":\"floor-tls\"}}\n");
        snprintf(command, sizeof command, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"tls-creds-x509\",\"id\":\"floor-tls\",\"dir\":\"%s\",\"endpoint\":\"client\",\"verify-peer\":true}}\n", source_tls);
        execute(&source, command);
        snprintf(command, sizeof command, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"tls-creds\":\"floor-tls\",\"tls-hostname\":\"%s\"}}\n", tls_hostname);
        execute(&source, command);
    }
    if (downtime_limit > 0) {
        snprintf(command, sizeof command, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"downtime-limit\":%ld}}\n", downtime_limit);
        execute(&source, command);
    }

    snprintf(command, sizeof command, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:%s:%s\"}}\n", address, port);
    execute(&destination, command);
    snprintf(command, sizeof command, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:%s:%s\"}}\n", address, port);
    execute(&source, command);
    for (;;) {
        execute(&source, "{\"execute\":\"query-migrate\"}\n");
        if (strstr(line, "\"status\": \"completed\"") || strstr(line, "\"status\":\"completed\""))
            break;
        if (strstr(line, "\"status\": \"failed\"") || strstr(line, "\"status\":\"failed\"")) {
            fprintf(stderr, "migrate-floor error=migration-failed reply=%s\n", line);
            return 1;
        }
        check_deadline();
        sleep_ms(5);
    }
    printf("migrate-floor total_ms=%.0f downtime_ms=%.0f setup_ms=%.0f\n", number_after("total-time"), number_after("downtime"), number_after("setup-time"));
    return 0;
}
