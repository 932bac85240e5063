"""Jupyter protocol conformance: the official `jupyter_kernel_test` suite run against Eddy.

Every test of `jupyter_kernel_test.KernelTests` (0.7.0) is switched on by a class attribute;
a test whose attribute is empty is skipped. Configured here:

  test_kernel_info       language_name, file_extension
  test_completion        completion_samples (matches are compared as an exact *set*)
  test_is_complete       complete_/incomplete_/invalid_code_samples
  test_error             code_generate_error (exactly one iopub output, of type `error`)
  test_execute_result    code_execute_result (text/plain compared with assertEqual)
  test_display_data      code_display_data
  test_history           code_execute_result + supported_history_operations + code_history_pattern
  test_inspect           code_inspect_sample
  IopubWelcomeTests      support_iopub_welcome (protocol 5.5 XPUB welcome)

Not applicable to a SQL kernel, left unset (so reported as skipped):

  test_execute_stdout  (code_hello_world)   SQL has no statement that prints: Eddy's results are
                                            execute_result / display_data, never a stdout stream.
  test_execute_stderr  (code_stderr)        likewise nothing writes to stderr; failures are
                                            `error` messages (test_error).
  test_pager           (code_page_something) Eddy sends no pager payloads; help on a name goes
                                            through inspect_request (test_inspect).
  test_clear_output    (code_clear_output)  no cell clears its own output; live results are
                                            updated in place with update_display_data.

All execute tests share one kernel per class, in alphabetical test order.
"""

from __future__ import annotations

import functools

import jupyter_kernel_test as jkt  # module import: a bare KernelTests name would be collected too

from conftest import KERNEL_NAME  # "eddy", the kernelspec dev/test installs

# A table created once in setUpClass, so completion can be checked against catalog names
# (completion runs before any execute test).
TABLE = "eddy_conformance_t"


def ascii_table(*lines: str) -> str:
    """text/plain of a result: datafusion-cli's table, no trailing newline, no row-count footer."""
    return "\n".join(lines)


class EddyKernelTests(jkt.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "sql"
    file_extension = ".sql"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        reply = cls.kc.execute_interactive(
            f"CREATE TABLE {TABLE} AS VALUES (1, 'a'), (2, 'b')",
            timeout=jkt.TIMEOUT,
            output_hook=lambda msg: None,
        )
        assert reply["content"]["status"] == "ok", reply["content"]

    # complete_request with cursor_pos at the end of `text`. Matches are whole words that
    # replace text[cursor_start:cursor_end], not suffixes.
    completion_samples = [
        # Keywords complete in upper case; SELECT is sqlparser's only keyword starting SEL.
        {"text": "SEL", "matches": ["SELECT"]},
        # Table names come from the session catalog.
        {"text": f"SELECT * FROM {TABLE[:9]}", "matches": [TABLE]},
        # Nothing typed after a space: any (possibly empty) valid reply will do.
        {"text": "SELECT 1 "},
    ]

    # is_complete_request: "incomplete" when the parser runs out of input (the console then waits
    # for another line), "invalid" when it fails before the end, "complete" otherwise.
    complete_code_samples = ["SELECT 1", "SELECT 1;", "SELECT 1;\nSELECT 2", "%lsmagic"]
    incomplete_code_samples = ["SELECT", "SELECT (1", "SELECT 1 +", "SELECT 'abc"]
    invalid_code_samples = ["SELEC 1 FROM", "SELECT ) FROM t"]

    code_generate_error = "SELECT * FROM no_such_table"

    code_execute_result = [
        {
            "code": "SELECT 1 + 1 AS two",
            "result": ascii_table(
                "+-----+",
                "| two |",
                "+-----+",
                "| 2   |",
                "+-----+",
            ),
        },
        {
            "code": "SELECT 'hello' AS greeting",
            "result": ascii_table(
                "+----------+",
                "| greeting |",
                "+----------+",
                "| hello    |",
                "+----------+",
            ),
        },
    ]

    # %md publishes display_data (not execute_result) with a text/markdown entry.
    code_display_data = [{"code": "%md # Hi", "mime": "text/markdown"}]

    # history_request: entries are [session, line, input] (with output=True:
    # [session, line, [input, output]]); `pattern` is a glob over the whole input, as in
    # IPython (`*` any run, `?` one character), and must match only the first sample above.
    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "SELECT 1 + 1 AS *"

    # inspect_request on a built-in function name, cursor at its end.
    code_inspect_sample = "abs"


class EddyIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = KERNEL_NAME
    support_iopub_welcome = True

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        # Upstream waits for the welcome with no timeout: a kernel that never sends one would
        # hang the whole run. Bound the wait, so that case fails with queue.Empty instead.
        cls.kc.get_iopub_msg = functools.partial(cls.kc.get_iopub_msg, timeout=jkt.TIMEOUT)
