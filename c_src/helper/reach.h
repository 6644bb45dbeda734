/* What a strict box binds, within its user's reach.
 *
 * On a root host the helper's child gives up root before it executes bwrap,
 * and bwrap, an unprivileged program then, resolves every path it binds as
 * the box's user. A path below a directory only root may enter (Elixir
 * installed under /root by asdf or mise, a CI's cache) would stop it. So,
 * still root, the child takes a mount namespace of its own (private: the
 * host sees nothing of it), covers each such directory with a tmpfs that
 * holds only the paths to bind, bound there from where they are, and bwrap
 * finds them at the paths it was given. Nothing else of that directory is
 * in sight, and the box binds them read-only or read-write as it would
 * have. */
#ifndef SANDBOX_REACH_H
#define SANDBOX_REACH_H

#include <stddef.h>
#include <sys/types.h>

/* The length of the outermost directory above `path` that uid:gid (with no
 * supplementary groups) may not search, as its mode bits say: "/root" of
 * "/root/.cache/x". 0 when every directory above it may be searched, -1
 * with errno when one cannot be looked at. `path` is absolute and has no
 * symbolic link in it (realpath's). */
ssize_t reach_blocked_prefix(const char *path, uid_t uid, gid_t gid);

/* For bwrap's command line (up to its "--"): brings the source of each
 * --bind and --ro-bind within reach of uid:gid, as described above, in a
 * mount namespace of the caller's own (made only if one is out of reach),
 * and gives bwrap such a source by its canonical path (malloc'd, in argv).
 * Needs root. Returns 0, or -1 having said why on stderr. */
int reach_bind_sources(char **argv, uid_t uid, gid_t gid);

#endif
