#pragma once
// The base of the four views: a QWidget that owns one QCustomPlot and can write it as PNG or PDF.
// QCustomPlot is only forward-declared here; include <qcustomplot.h> in a .cpp to reach into it.

#include <QPoint>
#include <QSize>
#include <QString>
#include <QWidget>

#include <functional>

class QCustomPlot;
class QCPAxis;
class QCPTextElement;

namespace attnsteer {

class PlotView : public QWidget {
    Q_OBJECT
  public:
    explicit PlotView(QWidget* parent = nullptr);
    ~PlotView() override;

    /// The plot this view configures (for tests and for custom tweaks).
    QCustomPlot* customPlot() const { return plot_; }
    /// A short file-name stem: "per_token", "tradeoff", "saliency", "matrix".
    virtual QString viewName() const = 0;

    /// Writes the view as a PNG of WIDTH x HEIGHT pixels times SCALE (WIDTH or HEIGHT 0: the
    /// widget's size; SCALE 2 doubles the resolution at the same layout). The picture is drawn
    /// into a temporary file next to PATH that is renamed onto PATH at the end, so PATH never
    /// holds half a file. OVERWRITE false refuses an existing PATH. Works offscreen, without the
    /// widget being shown. On failure returns false and sets ERROR to one line naming PATH.
    /// The view drawn as a WIDTH x HEIGHT picture (times SCALE) into BYTES as PNG; false when
    /// it cannot be drawn.
    bool pngBytes(int width, int height, double scale, QByteArray* bytes);
    bool savePng(const QString& path, int width = 0, int height = 0, double scale = 1.0,
                 bool overwrite = true, QString* error = nullptr);
    /// The same as a vector PDF of WIDTH x HEIGHT points (0: the widget's size).
    bool savePdf(const QString& path, int width = 0, int height = 0, bool overwrite = true,
                 QString* error = nullptr);

    /// Redraws now (the views otherwise redraw on the next event loop turn after a change).
    void replotNow();
    /// The title shown above the plot.
    QString title() const;

  signals:
    /// The user chose "Export view as PNG/PDF..." in the context menu; the window asks where.
    void exportRequested();

  protected:
    /// Calls ON_CLICK with the release position of each left click: press and release within a
    /// few pixels, so that a drag (a pan) is not a click.
    void onLeftClick(std::function<void(QPoint)> onClick);
    /// Called before a picture of SIZE pixels is drawn (export) and after every resize: views
    /// that keep an aspect ratio fit their ranges here. The default does nothing.
    virtual void fitToSize(QSize size);
    /// Queues a replot for the next event loop turn (several changes, one replot).
    void scheduleReplot();
    /// Sets the title shown above the axis rect.
    void setTitle(const QString& title);
    /// A font for tick labels and one for axis labels, the same in every view.
    static QFont tickFont();
    static QFont labelFont();
    /// Styles an axis the same way in every view: label, fonts, pens.
    static void styleAxis(QCPAxis* axis, const QString& label);
    /// Restores the ranges after the user zoomed or panned (double-click does it too).
    virtual void resetView() {}
    bool eventFilter(QObject* watched, QEvent* event) override;

  private:
    QPoint pressPosition_{-1, -1};
    /// writeFileAtomically (app/common) with DRAW(temporary path) writing the picture.
    bool writeAtomically(const QString& path, bool overwrite, QString* error,
                         const std::function<bool(const QString& temporaryPath)>& draw);
    /// Lays out and draws at SIZE for a picture, then back at the widget's size.
    void prepareForPicture(QSize size);
    void restoreAfterPicture();

    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
};

} // namespace attnsteer
