#pragma once
// The one way the command line and the window write a file: under a temporary name in the
// target's folder, flushed to disk, then renamed into place, so that a file is either complete or
// untouched, and nothing is overwritten unless asked.

#include <QByteArray>
#include <QString>

#include <functional>

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

/// writeFileAtomically with BYTES as the contents.
QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite);

} // namespace attnsteer
