#pragma once
// Errors that the command line and the GUI show to the user as one line.

#include <stdexcept>
#include <string>

namespace attnsteer {

/// Bad input from the user: a file that cannot be read or a value out of range.
/// what() is one line that names the file or option first, e.g. "sal.npy: dtype is <i4, expected
/// float32 or float64". The CLI prints it and exits with code 2; the GUI shows it in a message.
class InputError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
    /// "SOURCE: PROBLEM", the form every input error takes.
    InputError(const std::string& source, const std::string& problem)
        : std::runtime_error(source + ": " + problem) {}
};

/// Thrown by long computations when their cancel flag was raised.
class Cancelled : public std::runtime_error {
  public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace attnsteer
