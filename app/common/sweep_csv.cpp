#include "sweep_csv.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStringList>
#include <QTemporaryFile>

#include <charconv>
#include <filesystem>
#include <system_error>
#if __has_include(<unistd.h>)
#include <unistd.h>
#define ATTNSTEER_HAVE_FSYNC 1
#endif

namespace attnsteer {
namespace {

std::filesystem::path fsPath(const QString& path) {
    return std::filesystem::path(QFile::encodeName(path).toStdString());
}

} // namespace

QString exactNumber(double value) {
    char text[64];
    const auto [end, error] = std::to_chars(text, text + sizeof text, value);
    if (error != std::errc())
        return QString::number(value, 'g', 17);
    return QString::fromLatin1(text, end - text);
}

QByteArray sweepCsv(const std::vector<SweepRow>& rows) {
    QByteArray csv = "lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,kl_mean,kl_std\n";
    for (const SweepRow& row : rows) {
        const QStringList fields = {exactNumber(row.lambda), exactNumber(row.reductionMean),
                                    exactNumber(row.reductionStd), exactNumber(row.klMean),
                                    exactNumber(row.klStd)};
        csv += fields.join(QLatin1Char(',')).toLatin1() + '\n';
    }
    return csv;
}

QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite) {
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
    temporary.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                             QFileDevice::ReadGroup | QFileDevice::ReadOther);
    bool written = temporary.write(bytes) == bytes.size() && temporary.flush();
#ifdef ATTNSTEER_HAVE_FSYNC
    // The rename must not reach the disk before the contents do.
    written = written && ::fsync(temporary.handle()) == 0;
#endif
    const QString why = temporary.errorString();
    temporary.close();
    if (!written)
        return fail(QStringLiteral("cannot write file: ") + why);

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

} // namespace attnsteer
