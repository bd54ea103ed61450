#pragma once
// Errors that the command line and the GUI show to the user as one line. An InputError says what
// it is about (a setting or a file) apart from the problem, so that each front end names the
// subject its own way: the command line as its option ("--eps: must be ..."), the window as the
// control's label, a file by its path in both.

#include <stdexcept>
#include <string>
#include <utility>

namespace attnsteer {

/// What a bad input is about.
struct InputSubject {
    enum class Kind {
        Setting, ///< a value the user chose: NAME is its identifier, the command line's option
                 ///< without the dashes ("eps", "steer-heads", "saliency", "head")
        File,    ///< a file the user gave: NAME is its path
        Input,   ///< an input that is neither: NAME says which in plain words ("image" for the
                 ///< image being projected, "workload" for its sizes)
        None,    ///< nothing in particular (an unknown command): the problem says it all
    };
    Kind kind = Kind::None;
    std::string name;

    static InputSubject setting(std::string name) { return {Kind::Setting, std::move(name)}; }
    static InputSubject file(std::string path) { return {Kind::File, std::move(path)}; }
    static InputSubject input(std::string name) { return {Kind::Input, std::move(name)}; }
    bool operator==(const InputSubject&) const = default;
};

/// Bad input from the user: a file that cannot be read or a value out of range. problem() is one
/// line ("dtype is <i4, expected float32 or float64"); what() is "NAME: PROBLEM" with the
/// subject's bare name (a setting without dashes), for logs. Users see the front ends' wording
/// (app/common/error_text.h): the CLI prints its own and exits with code 2, the GUI shows its own.
class InputError : public std::runtime_error {
  public:
    InputError(InputSubject subject, const std::string& problem)
        : std::runtime_error(
              subject.kind == InputSubject::Kind::None ? problem : subject.name + ": " + problem),
          subject_(std::move(subject)), problem_(problem) {}
    /// About nothing in particular: PROBLEM says it all ("unknown command 'x'").
    explicit InputError(const std::string& problem) : InputError(InputSubject{}, problem) {}
    const InputSubject& subject() const noexcept { return subject_; }
    const std::string& problem() const noexcept { return problem_; }

  private:
    InputSubject subject_;
    std::string problem_;
};

/// InputError about the setting NAME (its command-line option without dashes).
inline InputError settingError(std::string name, const std::string& problem) {
    return InputError(InputSubject::setting(std::move(name)), problem);
}
/// InputError about the input NAME ("image", "workload").
inline InputError inputError(std::string name, const std::string& problem) {
    return InputError(InputSubject::input(std::move(name)), problem);
}
/// InputError about the file PATH.
inline InputError fileError(std::string path, const std::string& problem) {
    return InputError(InputSubject::file(std::move(path)), problem);
}

/// A compute device failed where another backend can do the same work: out of device memory,
/// a lost device, a failed launch. what() is one line without a subject ("out of device memory
/// (needs 4.3 GB, 2.1 GB free)"). withFallback (backend.h) catches it and computes on the CPU.
class DeviceError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Thrown by long computations when their cancel flag was raised.
class Cancelled : public std::runtime_error {
  public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace attnsteer
