#include "atomic_file.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace attnsteer {
namespace {

QString errnoText(int error) {
    return QString::fromLocal8Bit(std::strerror(error));
}

// The temporary files that exist right now, for the signal handler: fixed slots of C strings,
// since a handler may only do async-signal-safe things (read an atomic, unlink, raise).
constexpr int kTemporarySlots = 64;
std::atomic<char*> temporarySlots[kTemporarySlots];

void removeTemporariesAndDie(int signal) {
    for (auto& slot : temporarySlots)
        if (char* path = slot.exchange(nullptr))
            ::unlink(path); // the string leaks: the process is about to end
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

/// A temporary file of ours: created exclusively next to its target, known to the signal
/// handler while it exists, removed unless released.
class Temporary {
  public:
    /// Creates ".NAME.XXXXXX" in TARGET's folder; check ok() and problem().
    explicit Temporary(const QString& target) {
        const QFileInfo info(target);
        QByteArray pattern = QFile::encodeName(
            info.absoluteDir().filePath(QStringLiteral(".%1.XXXXXX").arg(info.fileName())));
        fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd_ < 0) {
            problem_ = QStringLiteral("cannot write file: ") + errnoText(errno);
            return;
        }
        path_ = pattern.toStdString();
        ::fchmod(fd_, 0644);
        char* copy = ::strdup(path_.c_str()); // one copy, owned by the slot it lands in
        for (auto& slot : temporarySlots) {
            char* expected = nullptr;
            if (slot.compare_exchange_strong(expected, copy)) {
                slot_ = &slot;
                return;
            }
        }
        std::free(copy); // every slot taken: this one is not removed on a signal
    }
    ~Temporary() {
        closeFile();
        if (!path_.empty())
            ::unlink(path_.c_str());
        forget();
    }
    Temporary(const Temporary&) = delete;
    Temporary& operator=(const Temporary&) = delete;

    bool ok() const { return fd_ >= 0 || !path_.empty(); }
    const QString& problem() const { return problem_; }
    const std::string& path() const { return path_; }
    QString name() const { return QFile::decodeName(QByteArray::fromStdString(path_)); }

    /// Writes BYTES, flushes them to the disk and closes; every step checked.
    bool writeAll(const QByteArray& bytes) {
        const char* data = bytes.constData();
        qsizetype left = bytes.size();
        while (left > 0) {
            const ssize_t written = ::write(fd_, data, std::size_t(left));
            if (written < 0 && errno == EINTR)
                continue;
            if (written <= 0)
                return fail(written < 0 ? errno : ENOSPC);
            data += written, left -= written;
        }
        return sync();
    }
    /// Flushes what was written under path() by someone else to the disk, and closes.
    bool sync() {
        if (::fsync(fd_) != 0)
            return fail(errno);
        const int result = ::close(fd_);
        fd_ = -1;
        return result == 0 || fail(errno);
    }
    /// Puts the file at TARGET: a hard link, which fails on an existing name (also one made
    /// since it was checked), unless OVERWRITE (a rename). The temporary name goes either way.
    bool moveTo(const QString& target, bool overwrite) {
        const QByteArray to = QFile::encodeName(target);
        if (overwrite) {
            if (::rename(path_.c_str(), to.constData()) != 0)
                return fail(errno);
            forget();
            path_.clear();
            return true;
        }
        if (::link(path_.c_str(), to.constData()) != 0) {
            const int error = errno;
            if (error != EPERM && error != ENOTSUP && error != EOPNOTSUPP)
                return fail(error);
            // A file system without hard links: check, then rename.
            struct stat status {};
            if (::lstat(to.constData(), &status) == 0)
                return fail(EEXIST);
            if (::rename(path_.c_str(), to.constData()) != 0)
                return fail(errno);
            forget();
            path_.clear();
        }
        return true;
    }
    int error() const { return error_; }

  private:
    bool fail(int error) {
        error_ = error;
        problem_ = QStringLiteral("cannot write file: ") + errnoText(error);
        return false;
    }
    void closeFile() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    void forget() {
        if (slot_)
            std::free(slot_->exchange(nullptr));
        slot_ = nullptr;
    }

    int fd_ = -1;
    int error_ = 0;
    std::string path_;
    QString problem_;
    std::atomic<char*>* slot_ = nullptr;
};

/// The checks before writing TARGET: "" or the problem (without the path).
QString checkTarget(const QString& path, bool overwrite) {
    if (path.isEmpty())
        return QStringLiteral("no file name given");
    const QFileInfo info(path);
    if (info.isDir())
        return QStringLiteral("is a folder");
    if (!overwrite && (info.exists() || info.isSymLink()))
        return QStringLiteral("exists and was not overwritten");
    if (!info.absoluteDir().exists())
        return QStringLiteral("cannot write file: folder %1 does not exist")
            .arg(QDir::toNativeSeparators(info.absoluteDir().path()));
    return {};
}

/// A test hook: with ATTNSTEER_TEST_HOLD_TEMPORARY set, the first temporary file written is
/// announced on stderr and the process waits, so that a test can interrupt it there.
void holdForTest(const Temporary& temporary) {
    static bool held = false;
    if (held || qEnvironmentVariableIsEmpty("ATTNSTEER_TEST_HOLD_TEMPORARY"))
        return;
    held = true;
    std::fprintf(stderr, "temporary %s\n", temporary.path().c_str());
    std::fflush(stderr);
    ::sleep(30);
}

} // namespace

void removeTemporaryFilesOnSignals() {
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
        std::signal(signal, removeTemporariesAndDie);
    // Past a file size limit a write must fail (and be reported), not kill the process.
    std::signal(SIGXFSZ, SIG_IGN);
}

QString writeFileAtomically(const QString& path, bool overwrite,
                            const std::function<QString(const QString& temporaryPath)>& write) {
    const auto fail = [&](const QString& problem) {
        return problem == QLatin1String("no file name given")
                   ? problem
                   : QDir::toNativeSeparators(path) + QStringLiteral(": ") + problem;
    };
    if (const QString problem = checkTarget(path, overwrite); !problem.isEmpty())
        return fail(problem);
    Temporary temporary(path);
    if (!temporary.ok())
        return fail(temporary.problem());
    if (const QString problem = write(temporary.name()); !problem.isEmpty())
        return fail(problem);
    holdForTest(temporary);
    if (!temporary.sync() || !temporary.moveTo(path, overwrite))
        return fail(temporary.error() == EEXIST ? QStringLiteral("exists and was not overwritten")
                                                : temporary.problem());
    return {};
}

QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite) {
    return writeFilesAtomically({{path, bytes}}, overwrite);
}

QString writeFilesAtomically(const std::vector<std::pair<QString, QByteArray>>& files,
                             bool overwrite) {
    const auto fail = [](const QString& path, const QString& problem) {
        return QDir::toNativeSeparators(path) + QStringLiteral(": ") + problem;
    };
    for (const auto& [path, bytes] : files)
        if (const QString problem = checkTarget(path, overwrite); !problem.isEmpty())
            return path.isEmpty() ? problem : fail(path, problem);
    // Every file complete on the disk under its temporary name before any is put in place.
    std::vector<std::unique_ptr<Temporary>> temporaries;
    for (const auto& [path, bytes] : files) {
        auto temporary = std::make_unique<Temporary>(path);
        if (!temporary->ok() || !temporary->writeAll(bytes))
            return fail(path, temporary->problem());
        holdForTest(*temporary);
        temporaries.push_back(std::move(temporary));
    }
    // Then all of them or, without OVERWRITE, none: a name taken meanwhile (another run writing
    // the same files) undoes the links this call made.
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (temporaries[i]->moveTo(files[i].first, overwrite))
            continue;
        if (!overwrite)
            for (std::size_t j = 0; j < i; ++j)
                ::unlink(QFile::encodeName(files[j].first).constData());
        return fail(files[i].first, temporaries[i]->error() == EEXIST
                                        ? QStringLiteral("exists and was not overwritten")
                                        : temporaries[i]->problem());
    }
    return {};
}

} // namespace attnsteer
