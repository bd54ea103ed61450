#pragma once
// The base of the four views: a QWidget that owns one QCustomPlot and can write it as a figure
// (PNG, PDF or SVG of a size in inches at a dpi). QCustomPlot is only forward-declared here;
// include <qcustomplot.h> in a .cpp to reach into it.

#include "figure.h"

#include <QFont>
#include <QPoint>
#include <QSize>
#include <QString>
#include <QWidget>

#include <QColor>

#include <functional>
#include <initializer_list>
#include <utility>

class QCustomPlot;
class QCPAbstractLegendItem;
class QCPAxis;
class QCPColorGradient;
class QCPTextElement;
class QCPPainter;

namespace attnsteer {

/// A colour gradient through STOPS (position 0..1, colour), nothing else: each view's scale.
QCPColorGradient colorGradient(std::initializer_list<std::pair<double, QColor>> stops);

/// How a view draws: on screen, or as a figure in a file. A figure is laid out in points (one
/// layout unit = 1/72 inch), so that its fonts and lines have the same size in print whatever
/// the dpi; the screen style uses the desktop's point sizes and one-pixel lines.
struct PlotStyle {
    QFont tick, label, title; ///< tick labels (and legends, item texts), axis labels, titles
    double line = 1.0;        ///< data lines (A, A', s, the curve's segments)
    double thin = 1.0;        ///< axes, ticks, grid lines, error bars, frames
    double symbol = 1.0;      ///< scale of symbol, marker and colour bar sizes
    bool overlays = true;     ///< hover marks, the selected row and live readouts are drawn
    bool figure = false;      ///< a file, not the screen

    static PlotStyle screen();
    /// Fonts of 7 pt (ticks), 8 pt (labels, titles): readable at one-column width (3.5 in).
    static PlotStyle forFigure(bool overlays = false);
};

class PlotView : public QWidget {
    Q_OBJECT
  public:
    explicit PlotView(QWidget* parent = nullptr);
    ~PlotView() override;

    /// The plot this view configures (for tests and for custom tweaks).
    QCustomPlot* customPlot() const { return plot_; }
    /// A short file-name stem: "per_token", "tradeoff", "saliency", "matrix".
    virtual QString viewName() const = 0;

    /// The view drawn as the figure SPEC describes, into BYTES (PNG, PDF or SVG). Works
    /// offscreen, without the widget being shown; the view on screen is left as it was. False
    /// with ERROR (one line) when it cannot be drawn.
    bool figureBytes(const FigureSpec& spec, QByteArray* bytes, QString* error = nullptr);
    /// figureBytes written to PATH through a temporary file next to it that is renamed onto
    /// PATH at the end (PATH never holds half a file). OVERWRITE false refuses an existing PATH.
    /// On failure returns false and sets ERROR to one line naming PATH.
    bool saveFigure(const QString& path, const FigureSpec& spec, bool overwrite = true,
                    QString* error = nullptr);

    /// A PNG of WIDTH x HEIGHT pixels times SCALE (WIDTH or HEIGHT 0: the widget's size): the
    /// figure of WIDTH/96 x HEIGHT/96 inches at 96 x SCALE dpi.
    bool pngBytes(int width, int height, double scale, QByteArray* bytes);
    bool savePng(const QString& path, int width = 0, int height = 0, double scale = 1.0,
                 bool overwrite = true, QString* error = nullptr);
    /// A PDF whose page is WIDTH x HEIGHT points (0: the widget's size).
    bool savePdf(const QString& path, int width = 0, int height = 0, bool overwrite = true,
                 QString* error = nullptr);

    /// Redraws now (the views otherwise redraw on the next event loop turn after a change).
    void replotNow();
    /// The title shown above the plot (the whole text, before it is wrapped to the width).
    QString title() const;
    /// The title as drawn now: wrapped onto two lines or shortened with an ellipsis when the view
    /// is too narrow for it.
    QString shownTitle() const;
    const PlotStyle& style() const { return style_; }
    /// The range and label of the view's colour scale (the matrix, the saliency grid); 0, 0 and
    /// empty without one.
    double colorLower() const;
    double colorUpper() const;
    QString colorLabel() const;
    /// TEXT fitted into WIDTH pixels of FONT: as it is, else broken onto two lines at the ", "
    /// or ": " nearest its middle, else each line shortened with an ellipsis.
    static QString fitText(const QString& text, const QFont& font, int width);

  signals:
    /// The user chose "Export view..." in the context menu; the window asks where.
    void exportRequested();
    /// A layer was drawn again on its own (what changed with lambda), without a replot.
    void layerRedrawn();

  protected:
    /// Calls ON_CLICK with the release position of each left click: press and release within a
    /// few pixels, so that a drag (a pan) is not a click.
    void onLeftClick(std::function<void(QPoint)> onClick);
    /// Called before a picture of SIZE layout units is drawn (export) and after every resize:
    /// views that keep an aspect ratio fit their ranges here. The default does nothing.
    virtual void fitToSize(QSize size);
    /// After the style changed (screen or figure): pens, symbol sizes, item fonts and the
    /// interactive overlays' visibility of the view. The base has styled the title, the axes,
    /// the legend and the colour scales.
    virtual void styleChanged(const PlotStyle& style);
    /// The mouse left the plot: hover marks and tooltips go. The default does nothing.
    virtual void pointerLeft();
    /// Device pixels per layout unit of the picture being drawn (the screen's pixel ratio, dpi/72
    /// for a PNG figure) or 0 for a vector figure (PDF, SVG): the matrix pools to this.
    double pictureScale() const { return pictureScale_; }
    /// Sets STYLE on the title, axes, legend and colour scales, then styleChanged(STYLE). Views
    /// call it with PlotStyle::screen() at the end of their constructors.
    void applyStyle(const PlotStyle& style);
    /// Whether a layer may be drawn again on its own: the plot has been drawn whole once (the
    /// layers have their buffers).
    bool layersReady() const { return replotted_; }
    /// Queues a replot for the next event loop turn (several changes, one replot).
    void scheduleReplot();
    /// Sets the title shown above the axis rect.
    void setTitle(const QString& title);
    /// The title's element, for a view that draws it on a layer of its own.
    QCPTextElement* titleElement() const { return title_; }
    /// A font for tick labels and one for axis labels, the same in every view (the screen's).
    static QFont tickFont();
    static QFont labelFont();
    /// Styles an axis the same way in every view: label, fonts, pens.
    static void styleAxis(QCPAxis* axis, const QString& label);
    /// A legend entry in the style's tick font, in a figure with room below for the descenders
    /// (an entry clipped the "g" of "unchanged" at its edge): every entry, also one added later.
    void styleLegendItem(QCPAbstractLegendItem* item) const;
    /// The axes of a heat map (the matrix, the saliency grid, the heads): styled, no grid lines,
    /// row 0 at the top, ticks outside the picture.
    void styleHeatMapAxes(const QString& xLabel, const QString& yLabel);
    /// Restores the ranges after the user zoomed or panned (double-click does it too).
    virtual void resetView() {}
    bool eventFilter(QObject* watched, QEvent* event) override;

  private:
    QPoint pressPosition_{-1, -1};
    /// Lays the plot out at SIZE layout units (ranges fitted, tick counts for the axes' lengths,
    /// the title fitted).
    void layOut(QSize size);
    /// The width the title may take: its cell's, without the margins.
    int titleWidth() const;
    /// After a layout: the title fitted to its cell, one tick fewer on each axis whose labels
    /// collide. Whether anything changed (then lay out again).
    bool refitLayout();
    /// Draws the current layout into PAINTER (active), SIZE layout units.
    void drawInto(QCPPainter* painter, QSize size);

    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QString titleText_;
    PlotStyle style_;
    double pictureScale_ = 1.0;
    bool replotted_ = false;
};

} // namespace attnsteer
