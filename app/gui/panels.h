#pragma once
// Two small containers of the window: a section of the control dock that folds away, and the
// saliency panel that sizes its grid view to the grid's shape.

#include <QWidget>

class QLabel;
class QToolButton;

namespace attnsteer {

class SaliencyGridPlot;

/// A titled section whose content folds away behind a header button (an arrow, the title and a
/// one-line summary shown while folded).
class CollapsibleSection : public QWidget {
    Q_OBJECT
  public:
    CollapsibleSection(const QString& title, QWidget* content, QWidget* parent = nullptr);

    bool isExpanded() const;
    void setExpanded(bool expanded);
    /// Shown after the title while the section is folded.
    void setSummary(const QString& summary);
    QToolButton* toggleButton() const { return toggle_; }
    QWidget* content() const { return content_; }

  signals:
    void expandedChanged(bool expanded);

  private:
    void updateHeader();

    QString title_, summary_;
    QToolButton* toggle_ = nullptr;
    QWidget* content_ = nullptr;
};

/// The saliency grid view with its caption and a row of controls below it. The view gets the
/// height that makes its cells fill the plot area (a square grid in a tall panel does not leave
/// empty bands inside the plot), and the three are centred vertically together.
class SaliencyPanel : public QWidget {
    Q_OBJECT
  public:
    SaliencyPanel(SaliencyGridPlot* grid, QLabel* caption, QWidget* controls,
                  QWidget* parent = nullptr);

    /// Lays the children out again (call after the grid's shape changed).
    void updateLayout();
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

  protected:
    void resizeEvent(QResizeEvent* event) override;

  private:
    /// The view's height for the panel's width: plot margins plus square cells over the width.
    int plotHeightFor(int width, int available) const;

    SaliencyGridPlot* grid_;
    QLabel* caption_;
    QWidget* controls_;
};

} // namespace attnsteer
