#pragma once
// What the window remembers between runs (QSettings): the controls, the window's layout, the
// folders of the file dialogs and the size of "Export all plots".

#include "figure.h"

#include <QSize>
#include <QString>

class QMainWindow;
class QSplitter;

namespace attnsteer {

struct WindowControls;

/// The folders the file dialogs start in.
enum class Folder { Image, Npy, Export };

/// The folder last used for FOLDER (the nearest existing folder above it when it has gone), or
/// at first the Pictures folder for images and exports (when it exists) and home for the rest.
QString lastFolder(Folder folder);
/// Remembers PATH's folder (PATH itself when it is one) for FOLDER.
void rememberFolder(Folder folder, const QString& path);

/// The figure the export dialogs showed last (PNG, 6 x 4 in at 200 dpi at first).
FigureSpec lastExportFigure();
void rememberExportFigure(const FigureSpec& spec);

/// Sets the controls to their stored values; the ones not stored keep theirs. The steered heads
/// field gets its text only: the caller applies it.
void restoreControls(const WindowControls& controls);
/// Stores the controls; STEERED_HEADS is the accepted text of the steered heads field.
void saveControls(const WindowControls& controls, const QString& steeredHeads);

/// Restores WINDOW's geometry and dock state and the two splitters, or gives them their first
/// sizes.
void restoreWindowLayout(QMainWindow& window, QSplitter& mainSplitter, QSplitter& bottomSplitter);
void saveWindowLayout(const QMainWindow& window, const QSplitter& mainSplitter,
                      const QSplitter& bottomSplitter);

} // namespace attnsteer
