#include "atomic_file.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryFile>

#include <filesystem>
#include <system_error>
#if __has_include(<unistd.h>)
#include <fcntl.h>
#include <unistd.h>
#define ATTNSTEER_HAVE_FSYNC 1
#endif

namespace attnsteer {
namespace {

std::filesystem::path fsPath(const QString& path) {
    return std::filesystem::path(QFile::encodeName(path).toStdString());
}

/// Flushes the file PATH to the disk: the rename must not reach the disk before the contents do.
bool syncToDisk(const QString& path) {
#ifdef ATTNSTEER_HAVE_FSYNC
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    return synced;
#else
    (void)path;
    return true;
#endif
}

} // namespace

QString writeFileAtomically(const QString& path, bool overwrite,
                            const std::function<QString(const QString& temporaryPath)>& write) {
    const auto fail = [&](const QString& problem) {
        return QDir::toNativeSeparators(path) + QStringLiteral(": ") + problem;
    };
    if (path.isEmpty())
        return QStringLiteral("no file name given");
    const QFileInfo info(path);
    if (info.isDir())
        return fail(QStringLiteral("is a folder"));
    const QString exists = QStringLiteral("exists and was not overwritten");
    if (!overwrite && (info.exists() || info.isSymLink()))
        return fail(exists);
    const QDir dir = info.absoluteDir();
    if (!dir.exists())
        return fail(QStringLiteral("cannot write file: folder %1 does not exist")
                        .arg(QDir::toNativeSeparators(dir.path())));

    QTemporaryFile temporary(dir.filePath(QStringLiteral(".%1.XXXXXX").arg(info.fileName())));
    if (!temporary.open())
        return fail(QStringLiteral("cannot write file: ") + temporary.errorString());
    temporary.close(); // the name stays reserved; removed again unless renamed below
    temporary.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                             QFileDevice::ReadGroup | QFileDevice::ReadOther);
    if (const QString problem = write(temporary.fileName()); !problem.isEmpty())
        return fail(problem);
    if (!syncToDisk(temporary.fileName()))
        return fail(
            QStringLiteral("cannot write file: ") +
            QString::fromStdString(std::error_code(errno, std::generic_category()).message()));

    const std::filesystem::path from = fsPath(temporary.fileName()), to = fsPath(path);
    std::error_code error;
    if (!overwrite) {
        // A hard link fails when the name exists, also when it appeared after the check above.
        std::filesystem::create_hard_link(from, to, error);
        if (!error)
            return {}; // the temporary name is removed with TEMPORARY
        if (error == std::errc::file_exists)
            return fail(exists);
        // A file system without hard links: check, then rename.
        if (QFileInfo::exists(path) || QFileInfo(path).isSymLink())
            return fail(exists);
        error.clear();
    }
    std::filesystem::rename(from, to, error);
    if (error)
        return fail(QStringLiteral("cannot write file: ") +
                    QString::fromStdString(error.message()));
    temporary.setAutoRemove(false);
    return {};
}

QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite) {
    return writeFileAtomically(path, overwrite, [&](const QString& temporaryPath) -> QString {
        QFile file(temporaryPath);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
            file.write(bytes) != bytes.size() || !file.flush())
            return QStringLiteral("cannot write file: ") + file.errorString();
        file.close();
        if (file.error() != QFileDevice::NoError)
            return QStringLiteral("cannot write file: ") + file.errorString();
        return {};
    });
}

} // namespace attnsteer
