#include "profile_csv.h"

#include "sweep_csv.h"

#include <QStringList>

namespace attnsteer {

QByteArray profileCsv(const Profile& profile) {
    QStringList header = {QStringLiteral("layer"), QStringLiteral("head")};
    for (const ProfileColumn& column : profileColumns())
        header << QString::fromLatin1(column.name.data(), qsizetype(column.name.size()));
    QByteArray csv = header.join(QLatin1Char(',')).toLatin1() + '\n';
    for (const HeadProfile& head : profile.heads) {
        QStringList fields = {QString::number(head.layer), QString::number(head.head)};
        for (const ProfileColumn& column : profileColumns())
            fields << exactNumber(column.value(head));
        csv += fields.join(QLatin1Char(',')).toLatin1() + '\n';
    }
    return csv;
}

} // namespace attnsteer
