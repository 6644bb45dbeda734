#include "nif/run_fsm.h"

#include "common/helper_line.h"
#include "nif/deadline.h"

#include <criterion/criterion.h>

#define MS INT64_C(1000000)

/* Feeds one event and returns its actions as a string of letters, so a
 * test reads as the sequence it expects. */
static const char *feed(run_fsm_t *f, run_event_kind_t kind, int64_t a, int64_t b, int64_t now,
                        int *rc) {
    static char letters[RUN_ACTIONS_MAX + 1];
    static const char code[] = {
        [ACT_SEND_READY] = 'y',    [ACT_SEND_LIMITS] = 'l',        [ACT_DELIVER_REQUEST] = 'q',
        [ACT_BEGIN_CAPTURE] = 'b', [ACT_SEND_CAPTURE_BEGUN] = 'g', [ACT_ANSWER] = 'A',
        [ACT_FORGET_OWNER] = 'o',  [ACT_STOP_PEER] = 's',          [ACT_KILL_HELPER] = 'k',
        [ACT_FINISH] = 'F',
    };
    run_actions_t out = {.count = 0};
    int result = run_fsm_step(f, &(run_event_t){.kind = kind, .a = a, .b = b}, now, &out);
    if (rc)
        *rc = result;
    for (int i = 0; i < out.count; i++)
        letters[i] = code[out.items[i]];
    letters[out.count] = '\0';
    return letters;
}

static const char *ev(run_fsm_t *f, run_event_kind_t kind, int64_t now) {
    int rc;
    const char *acts = feed(f, kind, 0, 0, now, &rc);
    cr_assert_eq(rc, 0, "event %d refused in state %d", kind, f->state);
    return acts;
}

static const char *tick(run_fsm_t *f, int64_t now) {
    static char letters[RUN_ACTIONS_MAX + 1];
    run_actions_t out = {.count = 0};
    run_fsm_tick(f, now, &out);
    for (int i = 0; i < out.count; i++)
        letters[i] = out.items[i] == ACT_ANSWER        ? 'A'
                     : out.items[i] == ACT_KILL_HELPER ? 'k'
                     : out.items[i] == ACT_FINISH      ? 'F'
                     : out.items[i] == ACT_STOP_PEER   ? 's'
                                                       : 'o';
    letters[out.count] = '\0';
    return letters;
}

/* A fresh run submitted at once, without limits, with a 1 s timeout. */
static run_fsm_t submitted_fresh(void) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 1000, 0, 0, NULL), "q"); /* written while it boots */
    return f;
}

/* The whole tree is gone: output and notices pipes at EOF. */
static const char *tree_gone(run_fsm_t *f, int64_t now) {
    static char both[2 * RUN_ACTIONS_MAX + 1];
    strcpy(both, ev(f, EV_OUTPUT_EOF, now));
    strcat(both, ev(f, EV_NOTICES_EOF, now));
    return both;
}

Test(run_fsm, a_fresh_run_from_spawn_to_end) {
    run_fsm_t f = submitted_fresh();
    cr_assert_str_eq(ev(&f, EV_BOOTED, 200 * MS), "");
    cr_assert_eq(f.state, RUN_STARTING);
    /* The run's deadline starts at the boot, not at the submit. */
    cr_assert_eq(run_fsm_next_deadline(&f), 1200 * MS);
    cr_assert_str_eq(ev(&f, EV_STARTED, 201 * MS), "");
    cr_assert_str_eq(ev(&f, EV_CAPTURING, 202 * MS), "bg");
    cr_assert_str_eq(ev(&f, EV_RESULT, 203 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_RESULT);
    cr_assert_str_eq(tree_gone(&f, 204 * MS), "F");
    cr_assert_eq(f.state, RUN_ENDED);
    cr_assert_eq(run_fsm_next_deadline(&f), DEADLINE_NEVER);
}

Test(run_fsm, a_pooled_peer_waits_without_a_deadline_then_runs) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    cr_assert_str_eq(ev(&f, EV_BOOTED, 200 * MS), "y");
    cr_assert_eq(f.state, RUN_IDLE);
    cr_assert_eq(run_fsm_next_deadline(&f), DEADLINE_NEVER);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 300, 0, 5000 * MS, NULL), "q");
    cr_assert_eq(run_fsm_next_deadline(&f), 5300 * MS);
    cr_assert_str_eq(tick(&f, 5300 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_TIMEOUT);
}

Test(run_fsm, a_warm_run_without_a_setup_captures_from_its_submit) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    ev(&f, EV_BOOTED, 200 * MS);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 300, SUBMIT_CAPTURE_EARLY, 5000 * MS, NULL), "bq");
    cr_assert(run_fsm_capturing_code(&f), "what the pipe brings after the submit is the code's");
    cr_assert_str_eq(ev(&f, EV_STARTED, 5001 * MS), "");
    cr_assert_eq(f.state, RUN_EVALUATING, "no 'C' to wait for");
    cr_assert_eq(f.t_capturing, 5001 * MS);
    int rc;
    feed(&f, EV_CAPTURING, 0, 0, 5002 * MS, &rc);
    cr_assert_eq(rc, -1, "a 'C' after an early capture was taken");
}

Test(run_fsm, captured_early_the_output_limit_holds_before_the_start) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    ev(&f, EV_BOOTED, 200 * MS);
    feed(&f, EV_SUBMIT, 300, SUBMIT_CAPTURE_EARLY, 5000 * MS, NULL);
    cr_assert_str_eq(ev(&f, EV_OUTPUT_LIMIT, 5001 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_OUTPUT_LIMIT);
}

Test(run_fsm, an_early_capture_submitted_while_booting_begins_at_the_boot) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 1000, SUBMIT_CAPTURE_EARLY, 0, NULL), "q");
    cr_assert_str_eq(ev(&f, EV_BOOTED, 200 * MS), "b");
    cr_assert_str_eq(ev(&f, EV_STARTED, 201 * MS), "");
    cr_assert_eq(f.state, RUN_EVALUATING);
    cr_assert_str_eq(ev(&f, EV_RESULT, 202 * MS), "Aos");
}

Test(run_fsm, an_early_capture_with_limits_begins_before_them) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    ev(&f, EV_BOOTED, 200 * MS);
    cr_assert_str_eq(
        feed(&f, EV_SUBMIT, 300, SUBMIT_CAPTURE_EARLY | SUBMIT_LIMITED, 5000 * MS, NULL), "bl");
    cr_assert_str_eq(ev(&f, EV_ENFORCED, 5001 * MS), "q");
    cr_assert_str_eq(ev(&f, EV_STARTED, 5002 * MS), "");
    cr_assert_eq(f.state, RUN_EVALUATING);
}

Test(run_fsm, limits_go_after_the_boot_and_the_request_after_them) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 1000, 1, 0, NULL), "");
    cr_assert_str_eq(ev(&f, EV_BOOTED, 200 * MS), "l");
    cr_assert_eq(f.state, RUN_LIMITING);
    int rc;
    feed(&f, EV_STARTED, 0, 0, 201 * MS, &rc);
    cr_assert_eq(rc, -1, "'S' before the request was sent");
    cr_assert_str_eq(ev(&f, EV_ENFORCED, 210 * MS), "q");
    cr_assert_eq(f.state, RUN_STARTING);
}

Test(run_fsm, cancel_during_limits_answers_cancelled) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    feed(&f, EV_SUBMIT, 1000, 1, 0, NULL);
    ev(&f, EV_BOOTED, 200 * MS);
    cr_assert_str_eq(ev(&f, EV_CANCEL, 201 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_CANCELLED);
    /* The late "enforced" is taken, and changes nothing. */
    cr_assert_str_eq(ev(&f, EV_ENFORCED, 202 * MS), "");
    cr_assert_eq(f.state, RUN_TEARDOWN);
}

Test(run_fsm, frame_then_eof_answers_the_result) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 1);
    ev(&f, EV_STARTED, 2);
    ev(&f, EV_RESULT, 3); /* a setup that failed: no 'C' */
    cr_assert_eq(f.answer, ANSWER_RESULT);
    cr_assert_str_eq(ev(&f, EV_PEER_LOST, 4), "");
    cr_assert_eq(f.answer, ANSWER_RESULT);
}

Test(run_fsm, deadline_then_late_frame_keeps_the_timeout) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 0);
    ev(&f, EV_STARTED, 1);
    cr_assert(!run_fsm_due(&f, 999 * MS));
    cr_assert(run_fsm_due(&f, 1000 * MS));
    cr_assert_str_eq(tick(&f, 1000 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_TIMEOUT);
    cr_assert_str_eq(ev(&f, EV_RESULT, 1001 * MS), "");
    cr_assert_eq(f.answer, ANSWER_TIMEOUT);
}

Test(run_fsm, no_boot_by_the_boot_deadline_is_a_boot_timeout) {
    run_fsm_t f = submitted_fresh();
    cr_assert_str_eq(tick(&f, 29999 * MS), "");
    cr_assert_str_eq(tick(&f, 30000 * MS), "Aos");
    cr_assert_eq(f.answer, ANSWER_BOOT_TIMEOUT);
}

Test(run_fsm, a_peer_lost_is_answered_once_its_end_is_known) {
    /* Before 'S': it never had the request, it failed to boot. */
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 0);
    cr_assert_str_eq(ev(&f, EV_PEER_LOST, 1), "s");
    cr_assert_eq(f.state, RUN_LOST);
    cr_assert_str_eq(ev(&f, EV_EXIT_STATUS, 2), "");
    cr_assert_str_eq(ev(&f, EV_OUTPUT_EOF, 3), "Aos");
    cr_assert_eq(f.answer, ANSWER_BOOT_EXITED);

    /* After 'S': the VM died mid-run. */
    f = submitted_fresh();
    ev(&f, EV_BOOTED, 0);
    ev(&f, EV_STARTED, 1);
    ev(&f, EV_PEER_LOST, 2);
    ev(&f, EV_OUTPUT_EOF, 3);
    cr_assert_str_eq(ev(&f, EV_NOTICES_EOF, 4), "AosF"); /* the helper is gone too */
    cr_assert_eq(f.answer, ANSWER_NOCONNECTION);
}

Test(run_fsm, a_lying_peer_fails_to_boot_as_broken) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_PEER_BROKE, 1);
    cr_assert_str_eq(tick(&f, 1 + 2000 * MS), "Aos"); /* its end never came: the grace */
    cr_assert_eq(f.answer, ANSWER_BOOT_BROKE);
}

Test(run_fsm, frames_out_of_order_break_the_protocol) {
    const run_event_kind_t early[] = {EV_STARTED, EV_CAPTURING, EV_RESULT};
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
        run_fsm_t f = submitted_fresh();
        int rc;
        feed(&f, early[i], 0, 0, 1, &rc);
        cr_assert_eq(rc, -1, "event %d before 'B' was taken", early[i]);
    }
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 1);
    int rc;
    feed(&f, EV_BOOTED, 0, 0, 2, &rc);
    cr_assert_eq(rc, -1, "a second 'B' was taken");
    feed(&f, EV_CAPTURING, 0, 0, 2, &rc);
    cr_assert_eq(rc, -1, "'C' before 'S' was taken");
}

Test(run_fsm, the_helper_reports_limits_only_when_asked) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 1);
    int rc;
    feed(&f, EV_ENFORCED, 0, 0, 2, &rc);
    cr_assert_eq(rc, -1, "'enforced' without limits sent");
    feed(&f, EV_BREACH, LIMIT_CPU, 0, 2, &rc);
    cr_assert_eq(rc, -1, "a breach of limits not in force");
}

Test(run_fsm, a_breach_answers_the_limit_even_once_the_peer_is_lost) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    feed(&f, EV_SUBMIT, 1000, 1, 0, NULL);
    ev(&f, EV_BOOTED, 1);
    ev(&f, EV_ENFORCED, 2);
    ev(&f, EV_STARTED, 3);
    cr_assert_str_eq(feed(&f, EV_BREACH, LIMIT_MEMORY, 0, 4, NULL), "Aos");
    cr_assert_eq(f.answer, ANSWER_LIMIT);

    /* An out-of-memory kill: the peer is gone before the verdict. */
    run_fsm_init(&f, 30000, 0);
    feed(&f, EV_SUBMIT, 1000, 1, 0, NULL);
    ev(&f, EV_BOOTED, 1);
    ev(&f, EV_ENFORCED, 2);
    ev(&f, EV_PEER_LOST, 3);
    cr_assert_str_eq(feed(&f, EV_BREACH, LIMIT_MEMORY, 0, 4, NULL), "");
    ev(&f, EV_EXIT_STATUS, 5);
    cr_assert_str_eq(ev(&f, EV_OUTPUT_EOF, 6), "Aos");
    cr_assert_eq(f.answer, ANSWER_LIMIT);
    cr_assert_eq(f.crossed, LIMIT_MEMORY);
}

Test(run_fsm, the_output_limit_counts_only_the_codes_output) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 1);
    ev(&f, EV_STARTED, 2);
    cr_assert_str_eq(ev(&f, EV_OUTPUT_LIMIT, 3), "", "the setup's output counted");
    ev(&f, EV_CAPTURING, 4);
    cr_assert_str_eq(ev(&f, EV_OUTPUT_LIMIT, 5), "Aos");
    cr_assert_eq(f.answer, ANSWER_OUTPUT_LIMIT);
}

Test(run_fsm, an_owner_that_dies_gets_no_answer) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_BOOTED, 1);
    cr_assert_str_eq(ev(&f, EV_OWNER_DOWN, 2), "os");
    cr_assert_eq(f.state, RUN_TEARDOWN);
    cr_assert_str_eq(ev(&f, EV_CANCEL, 3), "", "a cancel after the owner is gone");
}

Test(run_fsm, a_helper_that_does_not_finish_in_its_grace_is_killed) {
    run_fsm_t f = submitted_fresh();
    ev(&f, EV_CANCEL, 0);
    cr_assert_str_eq(tick(&f, 9999 * MS), "");
    cr_assert_str_eq(tick(&f, 10000 * MS), "kF");
    cr_assert_eq(f.state, RUN_ENDED);
}

Test(run_fsm, a_submit_after_a_boot_failure_gets_the_report) {
    run_fsm_t f;
    run_fsm_init(&f, 30000, 0);
    tick(&f, 30000 * MS); /* booting alone: answered to whoever booted it */
    tree_gone(&f, 30001 * MS);
    cr_assert_eq(f.state, RUN_ENDED);
    cr_assert_str_eq(feed(&f, EV_SUBMIT, 1000, 0, 30002 * MS, NULL), "F");
}
