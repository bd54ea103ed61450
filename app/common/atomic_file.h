#pragma once
// The one way the command line and the window write a file: under a temporary name in the
// target's folder, flushed to disk, then renamed into place, so that a file is either complete or
// untouched, and nothing is overwritten unless asked.

#include <QByteArray>
#include <QString>

#include <functional>
#include <utility>
#include <vector>

namespace attnsteer {

/// Writes PATH through WRITE(temporary path), which writes the whole file there and returns an
/// empty string, or the problem ("cannot draw the picture"). The temporary file (".NAME.XXXXXX"
/// in PATH's folder, mode 0644) is synced to disk and renamed to PATH. Unless OVERWRITE, an
/// existing PATH is left alone, also one that appears while the file is written (the final step is
/// a hard link, which fails on an existing name, where the file system has them). Returns an
/// empty string on success, else one line "PATH: problem": "exists and was not overwritten", "is a
/// folder", "cannot write file: folder DIR does not exist", "cannot write file: <reason>", or
/// WRITE's problem. The temporary file never stays behind.
QString writeFileAtomically(const QString& path, bool overwrite,
                            const std::function<QString(const QString& temporaryPath)>& write);

/// writeFileAtomically with BYTES as the contents; every write, the flush to disk and the close
/// are checked ("cannot write file: No space left on device").
QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite);

/// Several files (path, contents) at once: all are written and flushed under temporary names
/// first, then put in place. Without OVERWRITE it is all or none: when a name is taken meanwhile
/// (another run writing into the same folder), the files this call already put in place are
/// removed again and "PATH: exists and was not overwritten" is returned.
QString writeFilesAtomically(const std::vector<std::pair<QString, QByteArray>>& files,
                             bool overwrite);

/// Makes SIGINT, SIGTERM, SIGHUP and SIGQUIT remove the temporary files of writes in progress
/// before the process ends as the signal says, and a file size limit (SIGXFSZ) a write error.
/// Called once by the command line's and the window's main().
void removeTemporaryFilesOnSignals();

} // namespace attnsteer
