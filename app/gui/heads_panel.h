#pragma once
// The heads dock's content: which profile column the layers x heads view shows (and ranks the
// heads by), k and "Steer top k heads", a line saying what is shown, and the HeadsPlot.

#include "attnsteer/backend.h"

#include <QWidget>

#include <memory>
#include <vector>

class QLabel;

namespace attnsteer {

class HeadsPlot;
struct Profile;
struct WindowControls;

class HeadsPanel : public QWidget {
    Q_OBJECT
  public:
    /// Creates headsColumn, topK and steerTopK in CONTROLS.
    explicit HeadsPanel(WindowControls& controls, QWidget* parent = nullptr);

    HeadsPlot* plot() const { return plot_; }
    /// PROFILE of a source of LAYERS x HEADS_PER_LAYER heads (null: none yet). CURRENT false: it
    /// is of an earlier lambda or steering, and a newer one is being computed.
    void showProfile(std::shared_ptr<const Profile> profile, int layers, int headsPerLayer,
                     bool current);
    /// Says that the profile is being computed, or why there is none.
    void showStatus(const QString& status);
    /// The column shown and ranked by (a profileColumns() name).
    QString column() const;
    int topK() const;
    /// The k best heads of the profile shown by the column, best first; empty without one.
    std::vector<LayerHead> topHeads() const;

  signals:
    /// The column or k changed: the top heads may have.
    void rankingChanged();
    /// The user asked to steer the top heads (the button).
    void steerTopKRequested();

  private:
    WindowControls& c_;
    HeadsPlot* plot_ = nullptr;
    QLabel* status_ = nullptr;
};

} // namespace attnsteer
