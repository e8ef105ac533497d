"""The embedded default: a tansu broker child process and the run file that finds it."""
