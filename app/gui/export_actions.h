#pragma once
// Export: one view as PNG or PDF, all four views as PNGs into a folder, the sweep as CSV; the
// menu actions ask (format and size, file or folder, replacing files), then write.

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

    /// Writes VIEW as PNG (SIZE x SCALE pixels) or PDF; refuses an existing PATH unless
    /// OVERWRITE. Errors are shown; returns whether the file was written.
    bool exportView(PlotView* view, const QString& path, QSize size, double scale = 1.0,
                    bool pdf = false, bool overwrite = false);
    /// exportAllPlots(plotData(), DIR, SIZE, OVERWRITE); errors are shown.
    ExportResult exportAll(const QString& dir, QSize size, bool overwrite = false);
    /// The last sweep as CSV (the columns of attnsteer-cli sweep --csv).
    bool exportSweepCsv(const QString& path, bool overwrite = false);

  signals:
    void errorFound(const QString& message);
    void statusMessage(const QString& message, int timeoutMs);

  private:
    void exportViewInteractively(PlotView* view);
    void exportAllInteractively();
    void exportSweepInteractively();

    const Engine* engine_;
    std::function<PlotData()> plotData_;
    QMenu* exportViewMenu_ = nullptr;
    QWidget* window_;
};

} // namespace attnsteer
