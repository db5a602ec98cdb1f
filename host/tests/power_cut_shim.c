// LD_PRELOAD shim of host/tests/power_cut.rs: a journal of what a power cut would keep.
//
// For every fsync/fdatasync that succeeds on a regular file under $WEIR_SHIM_DIR, one line
// "S\t<size>\t<path>" goes to $WEIR_SHIM_JOURNAL, the size taken *before* the sync started (a
// byte written during the sync is not proven durable by it). Every pwrite to such a file is
// journaled after it returns as "W\t<offset>\t<length>\t<path>": a write inside the file's
// synced size (space written ahead, then overwritten) is lost by a power cut unless a sync of
// that file started after it, which the size alone cannot tell. Renames under the folder are
// journaled as "R\t<from>\t<to>" (an atomically replaced file keeps its synced size under its
// new name). After a SIGKILL the test cuts every journaled file back to its last synced size:
// what a power cut would have left. Nothing is written to a watched file by the shim itself.
// While the file $WEIR_SHIM_SYNC_GATE exists, every watched sync waits before it starts: a
// disk that does not answer, under the test's control. An answer that comes while the gate
// is shut was sent before its sync.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int journal = -1;
static const char *gate;
static const char *prefix;
static size_t prefix_len;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    prefix = getenv("WEIR_SHIM_DIR");
    const char *j = getenv("WEIR_SHIM_JOURNAL");
    gate = getenv("WEIR_SHIM_SYNC_GATE");
    if (prefix && j) {
        prefix_len = strlen(prefix);
        journal = open(j, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
}

static int under(const char *p) {
    return journal >= 0 && strncmp(p, prefix, prefix_len) == 0 &&
           (p[prefix_len] == '/' || p[prefix_len] == 0);
}

static void note(const char *line, int len) {
    if (len > 0 && len < PATH_MAX * 2 + 64) {
        ssize_t w = write(journal, line, (size_t)len);
        (void)w;
    }
}

static int synced(int fd, int (*real)(int)) {
    pthread_once(&once, init);
    char link[64], path[PATH_MAX];
    struct stat st;
    int watched = 0;
    if (journal >= 0) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = 0;
            watched = under(path) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        }
    }
    while (watched && gate && access(gate, F_OK) == 0) usleep(1000);
    int r = real(fd);
    if (r == 0 && watched) {
        char line[PATH_MAX + 64];
        note(line, snprintf(line, sizeof line, "S\t%lld\t%s\n", (long long)st.st_size, path));
    }
    return r;
}

static void written(int fd, long long offset, ssize_t n) {
    if (n <= 0) return;
    pthread_once(&once, init);
    if (journal < 0) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k <= 0) return;
    path[k] = 0;
    if (!under(path)) return;
    char line[PATH_MAX + 96];
    note(line, snprintf(line, sizeof line, "W\t%lld\t%lld\t%s\n", offset, (long long)n, path));
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off64_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");
    ssize_t r = real(fd, buf, count, offset);
    written(fd, (long long)offset, r);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    ssize_t r = real(fd, buf, count, offset);
    written(fd, (long long)offset, r);
    return r;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return synced(fd, real);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return synced(fd, real);
}

// `p` as an absolute path, relative ones resolved against `dirfd` (or the working folder).
static int absolute(int dirfd, const char *p, char *out) {
    if (p[0] == '/') return snprintf(out, PATH_MAX, "%s", p) < PATH_MAX;
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) return 0;
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, base, sizeof base - 1);
        if (n <= 0) return 0;
        base[n] = 0;
    }
    return snprintf(out, PATH_MAX, "%s/%s", base, p) < PATH_MAX;
}

static void renamed(int da, const char *a, int db, const char *b) {
    pthread_once(&once, init);
    char from[PATH_MAX], to[PATH_MAX];
    if (journal < 0 || !absolute(da, a, from) || !absolute(db, b, to)) return;
    if (!under(from) && !under(to)) return;
    char line[PATH_MAX * 2 + 64];
    note(line, snprintf(line, sizeof line, "R\t%s\t%s\n", from, to));
}

int rename(const char *a, const char *b) {
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int r = real(a, b);
    if (r == 0) renamed(AT_FDCWD, a, AT_FDCWD, b);
    return r;
}

int renameat(int da, const char *a, int db, const char *b) {
    static int (*real)(int, const char *, int, const char *);
    if (!real) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    int r = real(da, a, db, b);
    if (r == 0) renamed(da, a, db, b);
    return r;
}

int renameat2(int da, const char *a, int db, const char *b, unsigned int flags) {
    static int (*real)(int, const char *, int, const char *, unsigned int);
    if (!real)
        real = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2");
    int r = real(da, a, db, b, flags);
    if (r == 0) renamed(da, a, db, b);
    return r;
}
