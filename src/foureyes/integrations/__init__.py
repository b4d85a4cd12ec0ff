"""foureyes as the approval backend of the places agents run in.

Each framework already has a pause for approval; these adapters find a human for it through a
foureyes server and answer in the framework's own vocabulary. Each is an optional extra that
brings its framework:

- `foureyes.integrations.mcp_server`, `claude_code`, `mcp_proxy` (``pip install foureyes[mcp]``):
  Claude Code's permission prompt tool, its ``PreToolUse`` hook and an approving MCP proxy
  (the ``foureyes mcp`` / ``foureyes hook`` commands; see ``docs/claude-code.md``).

- `foureyes.integrations.openai_agents` (``pip install foureyes[openai-agents]``): resolves an
  OpenAI Agents SDK run's ``interruptions`` (``needs_approval`` tools), blocking or
  stop-and-resume with the run state kept as JSON.
- `foureyes.integrations.langchain` (``foureyes[langchain]``): answers LangChain v1's
  ``HumanInTheLoopMiddleware`` interrupts (batched and per-call) and a plain LangGraph
  ``interrupt()`` helper with ``Command(resume=...)``; wraps classic LangChain tools so invoking
  one needs an approval.
- `foureyes.integrations.pydantic_ai` (``foureyes[pydantic-ai]``): a ``HandleDeferredToolCalls``
  handler and a ``DeferredToolResults`` builder for Pydantic AI's deferred tools.

The tool-call id the framework gives each call is the foureyes call id, so asking again (on
resume, after a crash) finds the same request. A timeout or an error never approves anything.
CrewAI is not here: see ``docs/integrations.md`` for why and what to do instead.

Importing this package imports no framework; each module imports only its own.
"""

from foureyes._decision import Decision, DecisionOutcome
from foureyes.integrations._reviews import Ask, ReviewOptions, Reviews, refusal_text

__all__ = ["Ask", "Decision", "DecisionOutcome", "ReviewOptions", "Reviews", "refusal_text"]
