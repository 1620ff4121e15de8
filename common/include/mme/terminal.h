#pragma once
// The one status line at the bottom of a terminal (the progress line). Log lines are printed above
// it: the status line is cleared, the message written, and the status line redrawn.
#include <string>

namespace mme::terminal {

bool stderr_is_tty();
// Shows `line` as the status line (terminal only; a no-op otherwise).
void set_status(const std::string& line);
// Removes the status line (e.g. before the final summary).
void clear_status();
// Writes one complete line to stderr above the status line.
void write_line(const std::string& line);

}  // namespace mme::terminal
