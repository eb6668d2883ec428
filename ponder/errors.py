"""The one exception type for mistakes a user makes; kept in its own module so that `ponder
--help` and the registries import it without loading transformers."""


class ConfigError(ValueError):
    """A problem the user caused (an option, a config file, a dataset row, a model folder).

    Raised where the problem enters, turned into exit code 2 and one line by the `ponder`
    command (`ponder.cli.run_command`), and left to propagate everywhere else.
    """
