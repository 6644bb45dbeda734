/* A network namespace of its own for the calling process: network: false.
 * The new namespace holds only a loopback interface, and it is down. */
#ifndef SANDBOX_NETNS_H
#define SANDBOX_NETNS_H

#include "common/protocol.h"

typedef enum {
    NETNS_PLAIN = SANDBOX_NETNS_PLAIN,
    NETNS_USER = SANDBOX_NETNS_USER,
} netns_kind_t;

/* Plain first; when that is refused (EPERM, no CAP_SYS_ADMIN), inside a
 * new user namespace, which the kernel may let any user create. The caller
 * must be single-threaded. Returns the kind had, or -1 with the errno of
 * the last attempt. */
int netns_isolate(void);

int netns_unshare_plain(void);

/* unshare(CLONE_NEWUSER | CLONE_NEWNET), then maps the caller's uid and
 * gid onto themselves (nothing else is mapped) so that files keep their
 * owner. setgroups(2) is denied there, as the kernel requires of an
 * unprivileged mapping. Returns 0, or -1 with errno. */
int netns_unshare_in_user_ns(void);

#endif
