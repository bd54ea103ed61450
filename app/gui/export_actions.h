#pragma once
// Export: one view or all four views as figures (PNG, PDF or SVG; size in inches; dpi), the sweep
// as CSV; the menu actions ask (format and size, file or folder, replacing files, creating a
// missing folder), then write.

#include "engine.h"
#include "export_plots.h"
#include "plot_data.h"

#include <QObject>
#include <QSize>

#include <array>
#include <functional>

class QMenu;
class QToolBar;

namespace attnsteer {

class PlotView;

class ExportActions : public QObject {
    Q_OBJECT
  public:
    /// PLOT_DATA gives what the views show now; the sweep CSV is ENGINE's last sweep. WINDOW is
    /// the parent of the dialogs.
    ExportActions(const Engine* engine, std::function<PlotData()> plotData, QWidget* window);

    /// Adds the export actions to FILE_MENU and TOOLBAR; VIEWS (per-token, tradeoff, saliency
    /// grid, matrix) are exported from the menu and from their own export request.
    void addActions(QMenu* fileMenu, QToolBar* toolbar, const std::array<PlotView*, 4>& views);
    /// One more view in the "Export view" menu (as TEXT) and from its own export request.
    void addView(PlotView* view, const QString& text);

    /// Whether folder DIR is there: when it is missing the user is asked whether to create it
    /// (and it is created, with the folders above it); false when not (or it cannot be made).
    bool ensureFolder(const QString& dir);
    /// Writes VIEW as the figure SPEC describes; refuses an existing PATH unless OVERWRITE.
    /// Errors are shown; returns whether the file was written.
    bool exportFigure(PlotView* view, const QString& path, const FigureSpec& spec,
                      bool overwrite = false);
    /// exportAllPlots(plotData(), DIR, SPEC, OVERWRITE); errors are shown.
    ExportResult exportAll(const QString& dir, const FigureSpec& spec, bool overwrite = false);
    /// Writes VIEW as PNG (SIZE x SCALE pixels) or PDF; refuses an existing PATH unless
    /// OVERWRITE. Errors are shown; returns whether the file was written.
    bool exportView(PlotView* view, const QString& path, QSize size, double scale = 1.0,
                    bool pdf = false, bool overwrite = false);
    /// exportAllPlots(plotData(), DIR, SIZE, OVERWRITE); errors are shown. A missing DIR (or
    /// the folder of a view's PATH) is offered to be created first.
    ExportResult exportAll(const QString& dir, QSize size, bool overwrite = false);
    /// The last sweep as CSV (the columns of attnsteer-cli sweep --csv).
    bool exportSweepCsv(const QString& path, bool overwrite = false);

  signals:
    void errorFound(const QString& message);
    void statusMessage(const QString& message, int timeoutMs);

  private:
    /// Shows RESULT (an error or what was written into DIR) and returns it.
    ExportResult reportExport(const ExportResult& result, const QString& dir);
    void exportViewInteractively(PlotView* view);
    void exportAllInteractively();
    void exportSweepInteractively();

    const Engine* engine_;
    std::function<PlotData()> plotData_;
    QMenu* exportViewMenu_ = nullptr;
    QWidget* window_;
};

} // namespace attnsteer
