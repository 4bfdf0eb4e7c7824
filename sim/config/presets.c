/* presets.c: where the shipped presets live, and preset names resolved to their files. */
#define _DEFAULT_SOURCE /* readlink, d_type */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "config.h"

#ifndef BFLY_PKGDATADIR
#define BFLY_PKGDATADIR ""
#endif

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

uint32_t cfg_data_dirs(char dirs[][CFG_DIR_MAX], uint32_t max)
{
    uint32_t n = 0;
    const char *env = getenv("BFLYSIM_DATADIR");
    if (env && *env && n < max)
        snprintf(dirs[n++], CFG_DIR_MAX, "%s", env);
    /* the running program's folder: an installed copy keeps its data in ../share/bflysim
     * (wherever the tree was moved), a build tree beside the program */
    char exe[CFG_DIR_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0 && (size_t)len < sizeof exe - 1) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* each candidate is written in place and kept only when it is a folder */
            int w = n < max ? snprintf(dirs[n], CFG_DIR_MAX, "%s/../share/bflysim", exe) : -1;
            if (w > 0 && w < CFG_DIR_MAX && is_dir(dirs[n]))
                n++;
            w = n < max ? snprintf(dirs[n], CFG_DIR_MAX, "%s/arch", exe) : -1;
            if (w > 0 && w < CFG_DIR_MAX && is_dir(dirs[n]))
                snprintf(dirs[n++], CFG_DIR_MAX, "%s", exe);
        }
    }
    if (*BFLY_PKGDATADIR && n < max)
        snprintf(dirs[n++], CFG_DIR_MAX, "%s", BFLY_PKGDATADIR);
    return n;
}

bool cfg_find_data(const char *rel, char *path, size_t len, char *tried, size_t tried_len)
{
    char dirs[CFG_DATA_DIRS][CFG_DIR_MAX];
    uint32_t n = cfg_data_dirs(dirs, CFG_DATA_DIRS);
    struct stat st;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(path, len, "%s/%s", dirs[i], rel);
        if (stat(path, &st) == 0)
            return true;
        size_t used = strlen(tried);
        snprintf(tried + used, tried_len - used, "%s%s", used ? ", " : "", path);
    }
    return false;
}

/* The folder each kind's presets are in, below a data directory. */
static const char *const kind_dir[] = {"arch", "workloads", "arch/gpu", "arch/systems",
                                       "arch/peers"};
static const char *const kind_what[] = {"arch", "workload", "GPU", "system", "peer"};

int cfg_list_presets(cfg_preset_kind kind, char names[][CFG_NAME_MAX], uint32_t max, char *dir,
                     size_t dir_len)
{
    char dirs[CFG_DATA_DIRS][CFG_DIR_MAX];
    uint32_t nd = cfg_data_dirs(dirs, CFG_DATA_DIRS), n = 0;
    for (uint32_t i = 0; i < nd && !n; i++) {
        snprintf(dir, dir_len, "%s/%s", dirs[i], kind_dir[kind]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        for (struct dirent *e; (e = readdir(d)) && n < max;) {
            size_t l = strlen(e->d_name);
            if (l > 4 && l - 4 < CFG_NAME_MAX && !strcmp(e->d_name + l - 4, ".cfg") &&
                strcmp(e->d_name, "template.cfg") != 0)
                snprintf(names[n++], CFG_NAME_MAX, "%.*s", (int)(l - 4), e->d_name);
        }
        closedir(d);
    }
    /* readdir's order is the file system's: sort, so messages are the same everywhere */
    qsort(names, n, CFG_NAME_MAX, (int (*)(const void *, const void *))strcmp);
    return (int)n;
}

int cfg_preset_path(cfg_preset_kind kind, const char *name, char *path, size_t len, char *err,
                    size_t errlen)
{
    struct stat st;
    if (strchr(name, '/') || strstr(name, ".cfg") || stat(name, &st) == 0) {
        snprintf(path, len, "%s", name);
        return UTIL_OK;
    }
    char rel[CFG_DIR_MAX], tried[4 * CFG_DIR_MAX] = "";
    snprintf(rel, sizeof rel, "%s/%s.cfg", kind_dir[kind], name);
    if (cfg_find_data(rel, path, len, tried, sizeof tried))
        return UTIL_OK;
    char names[64][CFG_NAME_MAX], dir[CFG_DIR_MAX + 16], list[1024] = "";
    int n = cfg_list_presets(kind, names, 64, dir, sizeof dir);
    const char *cands[64];
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
        cands[i] = names[i];
    }
    const char *near = util_closest(name, cands, (size_t)n, 3);
    char hint[CFG_NAME_MAX + 32] = "";
    if (near)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    return util_fail(UTIL_ECONFIG, err, errlen,
                     "%s: no such file, and no %s preset of that name (tried %s; presets: %s)%s",
                     name, kind_what[kind], *tried ? tried : "no data directory",
                     n ? list : "none found", hint);
}
