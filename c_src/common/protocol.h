/* What the host (the NIF and the Elixir code around it), the helper and
 * the peer VM must agree on, in one place.
 *
 * The Elixir side reads this file when the package compiles
 * (Sandbox.Protocol): every value is a `#define SANDBOX_<NAME> <value>`
 * on one line, the value a plain decimal or a character literal, so that
 * a few lines of Elixir can read it. Sandbox.Native.constants/0 gives the
 * same values as the C compiler saw them; a test compares the two. */
#ifndef SANDBOX_PROTOCOL_H
#define SANDBOX_PROTOCOL_H

/* ---- file descriptors ----------------------------------------------------
 * The helper's on entry, as the NIF lays them out; the peer gets 0 to 4. */
#define SANDBOX_FD_NULL 0    /* /dev/null, the peer's stdin */
#define SANDBOX_FD_OUTPUT 1  /* the output pipe (write end); fd 2 is a copy */
#define SANDBOX_FD_REQUEST 3 /* frames from the host to the peer (read end) */
#define SANDBOX_FD_REPLY 4   /* frames from the peer to the host (write end) */
#define SANDBOX_FD_ORDERS 5  /* the host's orders to the helper (read end) */
#define SANDBOX_FD_NOTICES 6 /* the helper's notices to the host (write end) */
/* A page of memory the host reads and the peer writes (a sealed memfd): the
 * bytes the peer's output devices counted past :max_output rather than
 * writing them, a native-endian uint64 at offset 0. */
#define SANDBOX_FD_UNWRITTEN 7
#define SANDBOX_FD_FIRST_FREE 8
/* In a strict run's box: the VM's own non-blocking open of the output
 * pipe, made before Landlock closes /proc/self/fd to it (the VM passes it
 * to its output device; elsewhere the device opens /proc/self/fd/1). */
#define SANDBOX_FD_GUEST_OUTPUT 5
/* In every peer: SANDBOX_FD_UNWRITTEN, moved where the VM finds it. */
#define SANDBOX_FD_GUEST_UNWRITTEN 6
/* Past :max_output, an output device writes at least once per this many
 * bytes it counts instead, so the host still reads, and :output_limit
 * still stops a flood. 64 KB. */
#define SANDBOX_UNWRITTEN_SPAN 65536

/* ---- frames between host and peer: {packet, 4}, a tag byte first --------- */
#define SANDBOX_TAG_BOOTED 'B'    /* peer: booted, followed by its OS pid */
#define SANDBOX_TAG_STARTED 'S'   /* peer: took the request */
#define SANDBOX_TAG_CAPTURING 'C' /* peer: setup done, output flushed */
#define SANDBOX_TAG_RESULT 'R'    /* peer: followed by the result (external term format) */
/* host: the setup's output is dropped, capture has begun; the peer may
 * evaluate. Without it, output the code prints could land before the host
 * has cut away the setup's. */
#define SANDBOX_TAG_CAPTURE_BEGUN 'G'
/* The largest frame a peer may announce: a bigger length is a broken or
 * hostile peer. 1 GB. */
#define SANDBOX_MAX_FRAME_BYTES 1073741824

/* ---- the helper's failure stages: "fail <stage> <errno>" ------------------ */
#define SANDBOX_STAGE_SETUP 1   /* preparing the helper itself */
#define SANDBOX_STAGE_FORK 2    /* forking the peer */
#define SANDBOX_STAGE_NETWORK 4 /* network: false: no namespace to be had */
#define SANDBOX_STAGE_LIMITS 5  /* the run's resource limits could not be put in force */

/* ---- network: false: the namespace the helper got ("network <kind>") ---- */
#define SANDBOX_NETNS_PLAIN 1 /* unshare(CLONE_NEWNET): needs CAP_SYS_ADMIN */
#define SANDBOX_NETNS_USER 2  /* ...inside a user namespace of its own */

/* ---- bounds and times ------------------------------------------------------ */
/* The largest resource limit: ms of CPU become us in the helper, and every
 * figure stays a plain int64 on both sides. 2^50. */
#define SANDBOX_MAX_RESOURCE_LIMIT 1125899906842624
/* What the peer printed while booting is kept, up to this, for the error
 * raised when it cannot boot. 64 KB. */
#define SANDBOX_BOOT_OUTPUT_LIMIT 65536
/* The default :boot_timeout: how long a VM may take to boot. */
#define SANDBOX_BOOT_TIMEOUT_MS 30000
/* After the peer is lost, how long to wait for its exit status and the end
 * of its output before answering with what is known. */
#define SANDBOX_LOST_GRACE_MS 2000
/* After the answer, how long the helper has to report the tree gone before
 * it is killed itself: the longest a run's processes may still write to
 * its files after it has answered. */
#define SANDBOX_TEARDOWN_GRACE_MS 10000

#endif
