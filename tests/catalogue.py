"""RELIABILITY.md's test catalogue (§4.1 to §4.8), mapped to the tests that prove each item.

RELIABILITY.md lives outside the repository, so each criterion is summarised here in one line. Each id names the
pytest node ids that check its pass criterion (`partly` says what they leave unchecked), or why it does not apply
to PAS (`na`), or that no test proves it yet (`missing`). Status: passing, partly, na or missing.
tests/unit/test_catalogue.py checks the map: every id once, every named test defined, every `na` with a reason.

    python -m tests.catalogue       # the table: id, status, tests, and what is unchecked
"""

from __future__ import annotations

import sys
from typing import NamedTuple

SECTIONS = {"Q": 8, "L": 10, "C": 10, "G": 8, "V": 9, "S": 6, "A": 4, "X": 4}  # RELIABILITY.md §4.1 to §4.8
IDS = tuple(f"{letter}{n}" for letter, count in SECTIONS.items() for n in range(1, count + 1))

INT, SYS = "tests/integration/", "tests/system/"
RM, HB, REG = f"{INT}test_resource_manager.py::", f"{INT}test_heartbeat_monitor.py::", f"{INT}test_registry_api.py::"
GW, AD, BAD = f"{INT}test_gateway.py::", f"{INT}test_adapters.py::", f"{INT}test_bad_input_everywhere.py::"
GWR = f"{INT}test_gateway_receipts.py::"
ES, SU = f"{INT}test_event_stream.py::", f"{INT}test_startup_checks.py::"


class Proof(NamedTuple):
    summary: str  # the pass criterion, short
    tests: tuple[str, ...] = ()  # pytest node ids ("path::function", parametrized ids allowed)
    partly: str | None = None  # what the tests leave unchecked
    na: str | None = None  # why the item does not apply to PAS
    missing: bool = False  # no test proves it yet

    @property
    def status(self) -> str:
        if self.na is not None:
            return "na"
        if self.missing:
            return "missing"
        return "partly" if self.partly else "passing"


CATALOGUE: dict[str, Proof] = {
    # 4.1 Quotas, budgets, ports
    "Q1": Proof(
        "1000 reserves of 1 from 50 clients, capacity 100: 100 granted, 900 x 409, never used > 100",
        (f"{RM}test_concurrent_reservations_never_over_allocate",),
        # The SQL half does not apply: decision 4 allows either store, and PAS keeps every quota and budget in one
        # Lua script (SQL holds receipts and job cards, no quota), so there is no SQL quota path to run.
    ),
    "Q2": Proof(
        "500 random 1-8 unit requests, capacity 256: sum granted <= 256, used == recorded allocations",
        (f"{RM}test_random_sizes_sum_within_capacity",),
    ),
    "Q3": Proof(
        "one reservation released 10x concurrently: restored once, used never negative",
        (f"{RM}test_release_ten_times_concurrently_restores_once",),
    ),
    "Q4": Proof(
        "300 1 s leases, half released at expiry while the reaper runs: used ends 0, never negative",
        (f"{RM}test_leases_released_at_their_expiry_while_the_reaper_runs_end_once",),
    ),
    "Q5": Proof(
        "multi-resource request, last resource short: 409 and nothing allocated",
        (f"{RM}test_multi_resource_request_with_the_last_one_short_allocates_nothing",),
    ),
    "Q6": Proof(
        "200 concurrent port requests, 100-port range: 100 unique, 0 duplicates, 100 x 409",
        (f"{RM}test_ports_are_never_double_booked",),
    ),
    "Q7": Proof(
        "concurrent LLM calls against a budget: denied calls never reach upstream, spend <= budget",
        (f"{GWR}test_budget_never_overspends_under_concurrency",),
    ),
    "Q8": Proof(
        "kill -9 Valkey holding 500 reservations, restart from AOF: all 500 there, used unchanged",
        (f"{SYS}test_valkey_restart.py::test_reservations_survive_kill_9",),
    ),
    # 4.2 Registry and liveness
    "L1": Proof(
        "10 of 30 stop beating: down <= 3 s, deregistered <= 4 s after the last beat; 20 stay up",
        (f"{HB}test_ten_of_thirty_die_and_the_rest_never_flap",),
    ),
    "L2": Proof(
        "20 services beating at 0.9 s +- 20 % for 60 s: 0 down events",
        (
            f"{HB}test_l2_jittered_heartbeats_never_flap_over_the_whole_run",
            f"{HB}test_ten_of_thirty_die_and_the_rest_never_flap",
        ),
    ),
    "L3": Proof(
        "sampled state: no down -> up without a beat, deregistered only after down, misses non-decreasing",
        (
            f"{HB}test_ten_of_thirty_die_and_the_rest_never_flap",
            f"{HB}test_reads_follow_the_clock_without_any_sweep",
            f"{HB}test_heartbeat_after_down_restores_once",
        ),
    ),
    "L4": Proof(
        "sweep run twice per tick (or two beats) while services die: each transition emitted once",
        (
            f"{HB}test_concurrent_sweeps_emit_each_transition_once",
            f"{INT}test_beat.py::test_a_second_beat_does_not_double_the_sweeps",
        ),
    ),
    "L5": Proof(
        "beat for unknown/deregistered id: 404 naming service_id, no resurrection; old epoch refused",
        (
            f"{REG}test_heartbeat_unknown_and_deregistered_ids_are_404",
            f"{REG}test_heartbeat_from_an_old_epoch_is_refused",
            f"{REG}test_register_then_upsert_same_id",
        ),
    ),
    "L6": Proof(
        "beat timestamps +-1 h off: accepted, liveness unaffected, skew shown",
        (f"{REG}test_heartbeat_keeps_unsent_metrics_and_reports_skew",),
    ),
    "L7": Proof(
        "two web processes with clock offsets of +-30 s serving alternate beats: no flapping",
        (f"{SYS}test_topology.py::test_l7_skewed_web_clocks_do_not_flap",),
    ),
    "L8": Proof(
        "500 registered, kill -9 Valkey, restart from AOF: all present, none deregistered in the grace",
        (
            f"{SYS}test_valkey_restart.py::test_registrations_survive_kill_9_and_self_preservation_holds_them",
            f"{SYS}test_pas_outages.py::test_valkey_killed_restarts_from_its_aof_and_nobody_notices",
        ),
    ),
    "L9": Proof(
        "SIGSTOP web 5 s: nobody deregistered, all up again; a real mass death still deregisters after cap",
        (
            f"{SYS}test_pas_outages.py::test_web_stopped_for_5_s_deregisters_nobody_and_keeps_every_lease",
            f"{HB}test_self_preservation_holds_mass_deregistration",
        ),
    ),
    "L10": Proof(
        "keyspace notifications disabled: L1 bounds still met", (f"{HB}test_ten_of_thirty_die_and_the_rest_never_flap",)
    ),
    # 4.3 Celery workers and beat
    "C1": Proof(
        "kill -9 a pool child mid-task: task reruns to SUCCESS within 15 s, side effect applied once",
        (f"{INT}test_jobs.py::test_a_job_whose_pool_child_is_killed_runs_again",),
    ),
    "C2": Proof(
        "kill -9 the whole worker mid-task, start a new one: SUCCESS within 25 s, unacked empty",
        (
            f"{SYS}test_celery_faults.py::test_a_job_whose_worker_was_killed_runs_on_a_new_worker",
            f"{SYS}test_celery_faults.py::test_a_job_whose_end_was_cut_short_is_settled_by_its_next_delivery",
            f"{SYS}test_topology.py::test_c2_worker_killed_mid_job_the_other_finishes_it",
        ),
        # `unacked` is read for the work queue's messages: the system worker's one-second sweeps pass through the
        # same hash all the time, and none of them is the killed task's.
    ),
    "C3": Proof(
        "a poison task that always kills its worker: failed after N redeliveries, shown in the HMI",
        (
            f"{SYS}test_celery_faults.py::test_a_poison_job_is_failed_after_its_redeliveries",
            f"{SYS}test_celery_faults.py::test_a_job_whose_worker_was_killed_runs_on_a_new_worker",
        ),
        # The poison kills its pool process (a segfault, the OOM killer), redelivered at once; a whole worker's death
        # is redelivered after the visibility timeout and counted by the same per-job attempt counter (C2's job ends
        # with attempts == 2), which is what fails a job after MAX_ATTEMPTS however its worker died.
    ),
    "C4": Proof(
        "with early ack, kill -9 the worker: task reported FAILURE/lost, never silently PENDING",
        (
            f"{SYS}test_celery_faults.py::test_a_job_whose_worker_vanished_is_reported_not_left_running",
            f"{AD}test_a_worker_killed_mid_call_fails_it_at_once_then_health_is_degraded_and_503",
        ),
        # Jobs are late-acked: the reconciler ends a vanished one `timeout` with an alert. Model and adapter calls
        # are early-acked: the waiting client gets 502 worker_lost once the dead worker's claim lapses.
    ),
    "C5": Proof(
        "countdown longer than the visibility timeout: refused at the call site or run exactly once",
        (f"{SYS}test_celery_faults.py::test_a_countdown_past_the_visibility_timeout_is_refused_at_the_call_site",),
    ),
    "C6": Proof(
        "200 tasks queued, kill -9 Valkey, restart from AOF: all 200 run, each side effect once; a message the "
        "broker lost (popped, not yet in `unacked`) is found missing by the reconciler and its job runs once",
        (
            f"{SYS}test_celery_faults.py::test_queued_jobs_survive_valkey_killed_and_restarted_from_its_aof",
            f"{SYS}test_celery_faults.py::test_a_job_whose_message_the_broker_lost_is_dispatched_again_and_runs_once",
        ),
    ),
    "C7": Proof(
        "SIGTERM a worker's main process (as pas up and docker stop do) with 20 jobs in flight: 0 lost",
        (f"{SYS}test_celery_faults.py::test_sigterm_loses_no_in_flight_job",),
    ),
    "C8": Proof(
        "two beats, 1 s schedule: one sweep per tick, not two; the other takes over when the holder dies",
        (
            f"{INT}test_beat.py::test_a_second_beat_does_not_double_the_sweeps",
            f"{SYS}test_topology.py::test_c8_two_beats_sweep_once",
        ),
    ),
    "C9": Proof(
        "Redis connection dropped 3 s during late-ack tasks: no task's side effect runs twice",
        (f"{SYS}test_celery_faults.py::test_a_dropped_redis_connection_runs_no_job_twice",),
    ),
    "C10": Proof(
        "startup asserts and logs visibility_timeout, acks_late, prefetch, noeviction, appendonly",
        (
            f"{SU}test_celery_is_at_least_once",
            f"{SU}test_a_setting_that_did_not_apply_fails_loudly",
            f"{SU}test_embedded_valkey_persists_and_never_evicts",
            f"{SU}test_the_running_worker_logged_its_effective_config",
        ),
    ),
    # 4.4 Gateway and receipts
    "G1": Proof(
        "500 calls, kill -9 web at random, restart: each 2xx one completed receipt, each upstream call a receipt",
        (
            f"{SYS}test_gateway_crash.py::test_kill_9_mid_calls_leaves_a_receipt_for_each",
            f"{GWR}test_interrupted_call_is_closed_by_the_sweeper",
            f"{GWR}test_a_call_killed_after_its_jsonl_line_is_completed_from_it",
        ),
    ),
    "G2": Proof(
        "same Idempotency-Key 5x in sequence: 1 upstream call, 5 identical bodies, 1 receipt",
        (f"{GW}test_idempotency_key",),
    ),
    "G3": Proof(
        "same key 5x concurrently: 1 upstream call, the others 409, 1 receipt",
        (f"{GW}test_same_idempotency_key_in_flight_is_409_and_calls_the_upstream_once",),
    ),
    "G4": Proof("same key, different body: 422, no upstream call", (f"{GW}test_idempotency_key",)),
    "G5": Proof(
        "upstream 429 with Retry-After: next attempt no sooner; attempts within the configured maximum",
        (
            f"{GW}test_retry_after_is_honoured",
            f"{AD}test_gateway_retries_a_rate_limit_and_a_timeout_on_the_same_vendor",
        ),
    ),
    "G6": Proof(
        "primary 500, fallback succeeds: one receipt, provider = fallback, both attempts, fallback price",
        (
            f"{GW}test_retry_then_fallback_then_cooldown_then_probe",
            f"{AD}test_gateway_falls_back_between_vendors_and_cooldown_takes_a_failing_one_out",
        ),
    ),
    "G7": Proof(
        "stream broken after some chunks: no retry after the first byte, error event, receipt partial",
        (f"{GWR}test_stream_broken_midway_is_a_partial_receipt",),
    ),
    "G8": Proof(
        "upstream 400/401: exactly 1 attempt, a clear 4xx/502 to the client",
        (f"{GW}test_non_retryable_error_is_one_attempt",),
    ),
    # 4.5 Input validation
    "V1": Proof(
        "malformed JSON on every body route: 400 JSON {error, detail}",
        (
            f"{BAD}test_malformed_wrong_type_and_oversized_bodies",
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing[malformed]",
        ),
    ),
    "V2": Proof(
        "wrong Content-Type on every body route: 415",
        (
            f"{BAD}test_malformed_wrong_type_and_oversized_bodies",
            f"{INT}test_http_edges.py::test_application_json_with_or_without_parameters_is_json",
        ),
    ),
    "V3": Proof(
        "body over MAX_CONTENT_LENGTH: 413 JSON (dev server and gunicorn, chunked too)",
        (
            f"{BAD}test_malformed_wrong_type_and_oversized_bodies",
            f"{INT}test_http_edges.py::test_chunked_bodies_are_held_to_the_body_limit_on_the_dev_server",
            f"{SYS}test_web_edges.py::test_chunked_bodies_are_held_to_the_body_limit",
            f"{SYS}test_web_edges.py::test_gunicorn_refusals_answer_in_the_json_error_shape",
        ),
    ),
    "V4": Proof(
        "wrong type / missing field / unknown enum: 422 naming the field path (and an enum's values)",
        (
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing",
            f"{REG}test_discover_filters_and_order",
            f"{RM}test_bad_input",
            f"{INT}test_hostile_numbers.py::test_numbers_past_their_storage_are_422_naming_the_field",
            f"{INT}test_agent_router.py::test_bad_invoke_bodies_are_422_and_start_nothing",
            f"{INT}test_agent_hooks_untrusted.py::test_malformed_hooks_are_422_naming_the_field_and_change_nothing",
            f"{INT}test_hmi_pages.py::test_facade_bad_input_names_the_field",
            f"{BAD}test_wrong_types_and_unknown_enums_on_every_body_route_are_422_naming_them_and_change_nothing",
            f"{INT}test_openapi_fuzz.py::test_schemathesis_finds_no_failure_open_and_with_a_token",
        ),
    ),
    "V5": Proof(
        "unknown field on every body route: 422 extra_forbidden naming it",
        (
            f"{BAD}test_malformed_wrong_type_and_oversized_bodies",
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing[unknown-field]",
        ),
    ),
    "V6": Proof(
        "unknown id in the path: 404 naming the id",
        (
            f"{BAD}test_an_unknown_id_in_the_path_is_404_naming_it",
            f"{REG}test_heartbeat_unknown_and_deregistered_ids_are_404",
        ),
    ),
    "V7": Proof(
        "any bad input: store snapshot (Redis keys + SQL rows) identical before and after",
        (
            f"{BAD}test_malformed_wrong_type_and_oversized_bodies",
            f"{BAD}test_wrong_types_and_unknown_enums_on_every_body_route_are_422_naming_them_and_change_nothing",
            f"{BAD}test_an_unknown_id_in_the_path_is_404_naming_it",
            f"{BAD}test_budget_and_clear_refuse_a_query_field_given_twice",
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing",
            f"{RM}test_bad_input",
            f"{INT}test_agent_hooks_untrusted.py::test_malformed_hooks_are_422_naming_the_field_and_change_nothing",
        ),
    ),
    "V8": Proof(
        "hostile names (<script>, SQL, ../, {{7*7}}, a:b*{c}, NUL, U+202E, 10k, emoji): 422 by pattern or "
        "verbatim, never a raw Redis key, inert in the HMI",
        (
            f"{REG}test_hostile_names_are_stored_verbatim",
            f"{REG}test_control_and_bidi_characters_in_ids_are_refused",
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing[long-name]",
            "tests/unit/test_contracts.py::test_every_id_a_client_stores_has_a_documented_pattern",
            f"{INT}test_hmi_hostile_names.py::test_hostile_names_render_inertly_on_every_page",
            f"{INT}test_hmi_agent_pages.py::test_tree_shows_the_catalogue_lit_by_claude_code",
        ),
    ),
    "V9": Proof(
        "Schemathesis over /openapi.json, every check, stateful, fixed seed: 0 failures",
        (f"{INT}test_openapi_fuzz.py::test_schemathesis_finds_no_failure_open_and_with_a_token",),
        # The suite runs 5 examples per operation and phase (bounded, as the issue asks); the >= 100 of the criterion
        # is bench/fuzz.sh (100 by default, the same seed, config and checks), run for each closing note.
    ),
    # 4.6 Socket.IO / HMI
    "S1": Proof(
        "client away while 50 events occur, back with its last seq: all 50, in order, 0 duplicates",
        (f"{ES}test_a_client_that_was_away_recovers_every_event_by_seq",),
    ),
    "S2": Proof(
        "last seq older than the stream window: told to re-snapshot; the view equals REST state",
        (
            f"{ES}test_a_client_older_than_the_window_is_told_to_resnapshot",
            f"{INT}test_hmi.py::test_a_page_behind_the_stream_window_resnapshots_to_the_rest_state",
        ),
    ),
    "S3": Proof(
        "200 emits from a Celery worker to a browser on another web process: all arrive, p99 < 500 ms",
        (f"{SYS}test_topology.py::test_s3_200_emits_from_a_worker_all_arrive",),
    ),
    "S4": Proof(
        "restart Valkey: within 10 s NUMSUB = web processes, a new event reaches clients",
        (f"{SYS}test_topology.py::test_s4_valkey_restart_webs_resubscribe",),
    ),
    "S5": Proof(
        "Socket.IO connect with Origin: http://evil.example: refused", (f"{HB}test_socketio_refuses_a_foreign_origin",)
    ),
    "S6": Proof(
        "Socket.IO connect without (or with a wrong) token when PAS_API_TOKEN is set: refused",
        (f"{SYS}test_web_gevent.py::test_gevent_web_with_token",),
    ),
    # 4.7 Authentication
    "A1": Proof(
        "every mutating route from url_map: no token 401 + WWW-Authenticate, wrong 401, right passes",
        (f"{INT}test_auth.py::test_every_mutating_route_requires_the_token",),
    ),
    "A2": Proof(
        "token in the query string: 401", (f"{INT}test_auth.py::test_token_in_the_query_string_is_not_accepted",)
    ),
    "A3": Proof(
        "no PAS_API_TOKEN and a non-loopback bind: refuse to start or warn loudly (documented)",
        (
            f"{INT}test_security.py::test_the_web_refuses_every_interface_without_a_token",
            "tests/unit/test_compose.py::test_the_compose_web_binds_every_interface_so_it_requires_the_token",
            f"{SYS}test_pas_up.py::test_stop_and_start_keeps_services_statuses_and_alerts",
        ),
    ),
    "A4": Proof(
        "Flower requires basic auth or binds to 127.0.0.1 only",
        (f"{INT}test_security.py::test_flower_listens_on_loopback_only_and_wider_only_behind_basic_auth",),
    ),
    # 4.8 Secrets and SSRF
    "X1": Proof(
        "canary keys and token: 0 times in logs, receipts, events, HMI, Flower, result backend, errors",
        (
            f"{INT}test_secrets.py::test_canary_secrets_never_leak",
            f"{INT}test_secrets.py::test_an_upstream_echoing_the_key_leaks_it_nowhere",
            f"{INT}test_secrets.py::test_a_failing_task_flower_and_a_socketio_session_leak_no_canary",
            f"{AD}test_canary_keys_appear_in_no_log_line_and_no_response",
            "tests/unit/test_logging.py::test_message_traceback_and_extra_fields_lose_the_secret_and_the_rest_stays",
        ),
    ),
    "X2": Proof(
        "upstream URLs to metadata, Redis, ::1, 0x7f000001, mapped v4, localhost, file:, gopher:: 422",
        (
            f"{GW}test_endpoints_outside_the_allowlist_are_refused",
            f"{GW}test_registry_model_services_join_the_router",
            f"{INT}test_gateway_loops.py::test_pas_own_gateway_is_refused_as_an_upstream",
            "tests/unit/domain/test_provider_endpoints.py::test_pas_own_surfaces_are_refused_in_every_spelling",
        ),
    ),
    "X3": Proof(
        "allowlisted upstream answers 302 to an internal address: not followed",
        (
            f"{INT}test_security.py::test_a_redirect_from_an_allowlisted_upstream_is_not_followed",
            f"{AD}test_a_vendor_redirect_is_never_followed",
        ),
    ),
    "X4": Proof(
        "request body with api_base / base_url: 422 unknown field",
        (
            f"{GW}test_endpoints_outside_the_allowlist_are_refused",
            f"{REG}test_bad_register_input_is_4xx_json_and_changes_nothing[unknown-field]",
            "tests/unit/test_contracts.py::test_bad_examples_fail_model_and_schema",
        ),
    ),
}


def table() -> str:
    """One block per id: `id  status  test` (one line per test), then what the tests leave unchecked, if anything."""
    out = [f"{'id':<4} {'status':<8} tests"]
    for key in IDS:
        p = CATALOGUE[key]
        tests = list(p.tests) or ["-"]
        out.append(f"{key:<4} {p.status:<8} {tests[0]}")
        out += [f"{'':<13} {t}" for t in tests[1:]]
        if p.na or p.partly:
            out.append(f"{'':<13} {'n/a' if p.na else 'unchecked'}: {p.na or p.partly}")
    counts = {s: sum(CATALOGUE[k].status == s for k in IDS) for s in ("passing", "partly", "na", "missing")}
    out.append(", ".join(f"{n} {s}" for s, n in counts.items()) + f" (of {len(IDS)})")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
