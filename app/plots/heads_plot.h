#pragma once
// The heads view: one column of a head profile (attnsteer/profile.h) as a layers x heads heat map,
// like BertViz's model view but of numbers. Layers run down (layer 0 at the top), heads across.
// Hovering a cell shows that head's row of the profile; clicking picks it. The k best heads by
// the column are marked with a dot, the head chosen in the other views with a frame (its column
// when all layers are chosen).

#include "plot_data.h"
#include "plot_view.h"

#include "attnsteer/backend.h"
#include "attnsteer/profile.h"

#include <QPoint>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPItemRect;
class QMouseEvent;

namespace attnsteer {

class HeadsPlot : public PlotView {
    Q_OBJECT
  public:
    explicit HeadsPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("heads"); }

    /// PROFILE of a source of LAYERS x HEADS_PER_LAYER heads (every head of every layer, as
    /// profileHeads gives them); null clears the view.
    void setProfile(std::shared_ptr<const Profile> profile, int layers, int headsPerLayer);
    /// The column shown: a name of profileColumns(); an unknown one shows grounding_score.
    void setColumn(const QString& name);
    QString column() const;
    /// Marks the best COUNT heads by the column (0: none).
    void setTopK(int count);
    /// Frames head HEAD of LAYER (the source's index); LAYER -1: that head in every layer; HEAD
    /// -1: nothing.
    void setSelection(int layer, int head);
    /// The profile, column, marks and selection of DATA.
    void setData(const PlotData& data);

    const Profile* profile() const { return profile_.get(); }
    int layers() const { return layers_; }
    int headsPerLayer() const { return headsPerLayer_; }
    /// The column's value of (LAYER, HEAD) as the map holds it; NaN outside or not available.
    double value(int layer, int head) const;
    /// The profile's row of (LAYER, HEAD), or null.
    const HeadProfile* headProfile(int layer, int head) const;
    /// What hovering (LAYER, HEAD) shows: "layer 2, head 3", whether it is steered, then every
    /// column "name = value" (the one shown first); empty outside.
    QString hoverText(int layer, int head) const;
    /// The heads marked as the best by the column, best first.
    std::vector<LayerHead> topHeads() const;
    /// The cell under widget position PIXEL of customPlot(), or nullopt.
    std::optional<LayerHead> headAt(QPoint pixel) const;
    /// The centre of cell (LAYER, HEAD) in customPlot() pixels.
    QPoint cellCenter(int layer, int head) const;

    void resetView() override;

  signals:
    /// The user clicked (pressed and released without dragging) on (LAYER, HEAD).
    void headPicked(int layer, int head);
    /// The mouse is over (LAYER, HEAD); (-1, -1) when it left the cells.
    void headHovered(int layer, int head);

  private:
    void showColumn();
    void updateMarks();
    void onMouseMove(QMouseEvent* event);

    std::shared_ptr<const Profile> profile_;
    int layers_ = 0, headsPerLayer_ = 0;
    const ProfileColumn* column_ = nullptr;
    int topK_ = 0;
    int selectedLayer_ = -1, selectedHead_ = -1;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPGraph* topMarks_ = nullptr;
    QCPItemRect* selection_ = nullptr;
};

} // namespace attnsteer
