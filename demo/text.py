# ruff: noqa: E501  (prose templates read better unwrapped at the limit)
"""Narrative templates for the demo records, written in police register.

Each narrative is assembled from slots; each slot has many interchangeable templates,
so the texts vary enough for full-text search and entity extraction to be exercised
realistically. Placeholders are filled from a context dict built per record (people as
that system writes them, VRMs, phones and postcodes in varied formats).
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from typing import Any

# ------------------------------------------------------------------ incident by kind
# {s} suspect, {v} victim, {w} witness, {loc} place, {venue}, {when}, {weapon}, {drug}, {vrm}, {veh}...

INCIDENT: dict[str, tuple[str, ...]] = {
    "violence": (
        "At {when} {v} was walking along {street} when {s} approached and punched {vhim} repeatedly to the face, "
        "causing {inj}.",
        "{s} and {v} were involved in a verbal argument {venue} on {street} which escalated when {s} headbutted "
        "{v}, causing {inj}.",
        "{v} states that {s} attacked {vhim} with a {weapon} {venue} at about {when}, causing {inj}. {s} then "
        "made off on foot towards {area}.",
        "Following a dispute over money, {s} assaulted {v} at {loc}, kicking {vhim} while {vhe} was on the "
        "ground. {v} sustained {inj}.",
        "CCTV shows {s} striking {v} to the back of the head outside the kebab shop on {street} at {when}; "
        "{v} fell and suffered {inj}.",
        "{s} is alleged to have assaulted {v} during an altercation {venue}, {area}. LAS attended and {v} was "
        "conveyed to hospital with {inj}.",
        "{v} was stabbed once in the leg with a {weapon} by {s} outside {loc}. The injury is described by "
        "medical staff as {inj}.",
    ),
    "domestic": (
        "{v} reports that her ex-partner {s} has repeatedly called and messaged her from {phone}, turned up "
        'uninvited at {loc} and threatened to "make her pay".',
        "Over the past six months {s} has controlled {v}'s finances, monitored her phone and prevented her "
        "from seeing family. Disclosure made to the CSU via the IDVA.",
        "{s} attended {v}'s home address at {loc} in breach of a non-molestation order and banged on the door "
        "shouting threats. Neighbour {w} called police.",
        "{v} states {s} sent over 200 messages in one night from {phone}, including threats to share intimate "
        "images. Screenshots retained as exhibits.",
        "DASH risk assessment completed with {v}: HIGH risk. {s} has previously strangled {v} and has access "
        "to a {veh} ({vrm}) which he uses to follow her.",
    ),
    "sexual": (
        "{v} reports that an unknown male, later identified as {s}, touched her inappropriately on a crowded "
        "bus travelling through {area} at {when}.",
        "{v} attended the Haven and disclosed a sexual assault by {s} at {loc} after a night out. SOIT officer "
        "deployed; ABE interview arranged.",
        "{v} states that {s}, an acquaintance, sexually assaulted her at his address after she became "
        "intoxicated. Forensic medical examination completed.",
        "{s} is alleged to have exposed himself to {v} {venue} on {street} at {when}. Description circulated.",
    ),
    "sexual_child": (
        "Referral from the school safeguarding lead: {v} (aged {vage}) disclosed sexual contact with {s}, "
        "aged {sage}. Strategy meeting held with children's social care.",
        "Messages recovered from {v}'s phone show {s} grooming the child over Snapchat and arranging to meet "
        "at {loc}. CAIT notified.",
    ),
    "robbery": (
        "{v} was approached by two males on {street} at {when}. One, later identified as {s}, produced a "
        "{weapon} and demanded {item}. The suspects made off towards {area}.",
        "{s} snatched {item} from {v}'s hand as {he} rode past on a moped ({vrm}) on {street} at {when}.",
        "{v} was followed from {area} station by {s} and an unknown male who threatened {vhim} with a {weapon} "
        "and took {item} and {vhis} bank cards.",
        "Staff at the {shop} on {street} were threatened by {s}, who claimed to have a {weapon} and demanded "
        "cash from the till. Approximately £{cash} taken.",
        "{v} met {s} to buy a phone advertised online; on arrival {s} and two others punched {v} and took "
        "{item}. The meeting was arranged via {phone}.",
    ),
    "burglary": (
        "Unknown suspect(s) forced the rear door of {loc} with a screwdriver between {when} and 07:30 hrs and "
        "stole {item}. Property left untidy; fingerprints lifted from the kitchen window.",
        "{v} returned home to find the front door of {loc} insecure and {item} missing. A neighbour, {w}, saw "
        "a {veh} ({vrm}) parked outside at around {when}.",
        "{s} was seen by {w} climbing through a ground floor window at {loc} at {when}. Entry gained by "
        "smashing the glass; {item} taken.",
        "Distraction burglary: a {sgender} claiming to be from the water board, later identified as {s}, gained "
        "entry to {v}'s home at {loc} and stole {item} while {v} (aged {vage}) was distracted.",
        "Commercial premises at {street} entered overnight via the roof. Cash box and {item} stolen. CCTV "
        "shows two males arriving in a {veh}, index {vrm}.",
        "Keyless entry: {v}'s car keys were fished through the letterbox at {loc} and the {veh} ({vrm}) was "
        "taken from the driveway at about {when}.",
    ),
    "vehicle": (
        "{v}'s {veh}, registration {vrm}, was stolen from {street} overnight. ANPR shows the vehicle travelling "
        "through {area} at {when} the next morning.",
        "{s} was seen by {w} trying the door handles of parked vehicles on {street} at {when}. {He} was detained "
        "by officers a short distance away in possession of a screwdriver.",
        "The nearside window of {v}'s {veh} ({vrm}) was smashed on {street} and {item} taken from the seat.",
        "{s} was the driver of a stolen {veh} ({vrm}) which failed to stop for police in {area} and collided "
        "with a parked car. {s} decamped but was detained after a short foot chase.",
        "Catalytic converter cut from {v}'s Toyota Prius on {street} at {when}; a {veh} ({vrm}) was seen "
        "leaving at speed.",
    ),
    "theft": (
        "{v} had {item} taken from {vhis} bag while on the Victoria line between {area} and King's Cross. The "
        "theft was not noticed until later.",
        "{s} was seen by {w} taking {item} from a table outside a café on {street} at {when}.",
        "{v}'s bicycle, a grey Carrera, was stolen from the stands outside {area} station. The D-lock had been "
        "cut. A {sgender} matching the description of {s} was seen nearby.",
        "{v} reports that {item} went missing from {vhis} flat at {loc} after a visit from {s}, a known associate.",
    ),
    "shoplifting": (
        "{s} was detained by security staff at {shop}, {street}, after leaving without paying for goods to "
        "the value of £{cash} (meat, razor blades and alcohol).",
        "CCTV at {shop} shows {s} concealing {qty} bottles of spirits inside a foil-lined bag at {when}. {s} is "
        "known to store staff and is suspected of previous thefts.",
        "Staff member {v} at {shop} states {s} became aggressive when challenged and pushed past {vhim}, leaving "
        "with goods worth £{cash}.",
    ),
    "drugs_supply": (
        "Officers on patrol in {area} observed {s} engage in what appeared to be a hand-to-hand exchange with "
        "a known drug user on {street}. On search {s} was found in possession of {qty} {pkg} of {drug} and "
        "£{cash} in cash.",
        "A {veh}, VRM {vrm}, was stopped on {street} following an ANPR activation (drugs marker). The driver "
        "{s} was found with {qty} {pkg} of {drug} concealed in the centre console and two mobile phones.",
        "Warrant executed under s.23 MDA at {loc}. {s} was present. Officers recovered {qty} {pkg} of {drug}, "
        "scales, snap bags and £{cash} in cash.",
        "{s} was stopped and searched under s.23 MDA {venue}, {area}. {qty} {pkg} of {drug} were found in {his} "
        "mouth and {he} was holding a Nokia handset ({phone}) which was receiving bulk marketing texts.",
        "Test purchase operation: {s} supplied {drug} to an undercover officer on {street} at {when} after "
        'contact was made on {phone} (the "{line}").',
    ),
    "drugs_possession": (
        "{s} was stopped and searched on {street} at {when} after officers smelt {drug}. A small amount of "
        "{drug} was found in {his} jacket pocket.",
        "Following a stop of a {veh} ({vrm}) on {street}, the passenger {s} was found in possession of one "
        "wrap of {drug2}.",
        "{s} was seen smoking what was believed to be {drug} {venue}. On search a grinder and a bag of {drug} "
        "were recovered.",
        "{s} was searched on arrival in custody and a small snap bag of {drug2} was found in {his} sock.",
    ),
    "weapons": (
        "{s} was stopped and searched under s.1 PACE on {street} at {when} after officers noticed {him} holding "
        "{his} waistband. A {weapon} was found tucked into {his} trousers.",
        "Following a s.60 authority in {area}, {s} was searched and found in possession of a {weapon} wrapped "
        "in a sock.",
        "{w} called police reporting a {sgender} brandishing a {weapon} {venue}, {street}. {s} was detained by "
        "officers and the weapon recovered from a nearby bin.",
        "{s} was the rear passenger of a {veh} ({vrm}) stopped in {area}; a {weapon} was found under {his} seat.",
    ),
    "firearms": (
        "Armed officers executed a warrant at {loc}. {s} was detained and a {firearm} with ammunition was "
        "recovered from a shoebox in the wardrobe.",
        "Intelligence-led stop of a {veh}, VRM {vrm}, on {street}. A {firearm} was found in a hidden "
        "compartment behind the dashboard; the driver {s} was arrested.",
        "Shots fired on {street} at {when}. CCTV identifies {s} as the rider of a moped seen leaving the scene. "
        "A {firearm} was later recovered from a garden in {area}.",
    ),
    "public_order": (
        "{s} became abusive towards staff and customers {venue} at {when}, shouting racial abuse and "
        'threatening to "stab" {v}.',
        "A large group gathered on {street} following a football match. {s} was seen throwing bottles at "
        "police and members of the public.",
        "{s} stood outside {v}'s address at {loc} shouting threats and kicking the door. {v} states {vhe} was "
        "in fear of immediate violence.",
    ),
    "damage": (
        "{s} kicked the wing mirror off {v}'s {veh} ({vrm}) on {street} following a parking dispute.",
        "The front window of {loc} was smashed at about {when}. {v} believes {vhis} ex-partner {s} is "
        "responsible.",
        'Graffiti tags ("{tag}") sprayed on the shutters of the {shop} on {street}; estimated cost of '
        "cleaning £{cash}.",
        "A fire was deliberately started at the door of {loc} at {when} by a {sgender} in a dark hooded top, "
        "believed to be {s}. LFB attended; the occupants escaped unhurt.",
    ),
    "fraud": (
        "{v} (aged {vage}) received a call from {phone} from a male claiming to be from {vhis} bank and was "
        "persuaded to hand over {vhis} card to a courier, later identified as {s}.",
        "{s} used {v}'s stolen bank card for contactless payments totalling £{cash} at shops on {street}.",
        "{s} left the Esso garage on {street} without paying for £{cash} of fuel in a {veh} displaying false "
        "plates {vrm}.",
        "Online marketplace fraud: {v} paid £{cash} for a car advertised by {s}; the vehicle never existed. "
        "Contact was made on {phone} and {email}.",
    ),
    "homicide": (
        "At {when} police were called to {loc} where {v} was found with stab wounds. Despite the efforts of "
        "LAS and HEMS, {v} was pronounced dead at the scene. {s} was arrested nearby.",
        "{v} was shot on {street} at {when}. A {veh} ({vrm}) was seen leaving the area. MIT have taken "
        "primacy. {s} has been identified through cell site data on {phone}.",
        "Following an altercation {venue}, {v} was stabbed with a {weapon} and remains in a critical "
        "condition. {s} fled the scene in a {veh}.",
    ),
}

INJURIES = (
    "a laceration to the forehead",
    "bruising and swelling to the face",
    "a broken nose",
    "a stab wound to the thigh",
    "a swollen left eye",
    "a fractured cheekbone",
    "a cut lip",
    "two broken teeth",
    "a suspected fractured wrist",
    "reddening to the neck",
    "grazing to both knees",
)
TAGS = ("NPK", "E5 GANG", "CR0W", "YG N17", "OFB", "ZONE 2", "MDP")

# ------------------------------------------------------------------ custody

ARREST_CIRCUMSTANCES = (
    "DP was arrested by {o} on {street} at {arrest_time} hrs after being identified from the description "
    "circulated.",
    "DP arrested at {his} home address {arrest_addr} at {arrest_time} following a pre-planned arrest "
    "(enquiry officer {oic}).",
    "DP was stopped in a {veh}, VRM {vrm}, on {street}; PNC check showed {him} wanted on {wanted}. Arrested by "
    "{o}.",
    "DP was arrested by {o} on {street} after a short foot chase. Handcuffed to the rear for officer safety.",
    "DP attended {station} by appointment (voluntary attendance) and was arrested on arrival by {oic}.",
    "DP was identified by Livescan on arrival as wanted for an outstanding matter ({wanted}).",
    "DP arrested by {o} at {arrest_time} following an ANPR hit on the {veh} ({vrm}) in {area}.",
    "DP detained by store security at {shop} and handed to {o}, who arrested {him} at {arrest_time}.",
)
REASON_PREFIX = (
    "Arrested on suspicion of {offence}.",
    "Suspicion of {offence}.",
    "{offence} - arrested at scene.",
    "Arrested for {offence} (offence date {offence_date}).",
)
NECESSITY = (
    "Necessity: to allow the prompt and effective investigation of the offence (Code G 2.9(e)).",
    "Necessity: to prevent the person causing physical injury to another (Code G 2.9(c)(i)).",
    "Necessity: to ascertain the person's name and address (Code G 2.9(a)).",
    "Necessity: to prevent the disappearance of the person (Code G 2.9(f)).",
    "Necessity: to protect a vulnerable person (Code G 2.9(d)).",
)
GROUNDS = (
    "To secure and preserve evidence and to obtain evidence by questioning.",
    "Detention authorised by PS {sgt} to obtain evidence by questioning. Phone download and CCTV "
    "enquiries outstanding.",
    "To obtain evidence by questioning. DP denies the offence at the point of arrest.",
    "Detention authorised to secure and preserve evidence (search of home address under s.18 PACE) and to "
    "obtain evidence by questioning.",
    "To obtain evidence by questioning; identification procedure (VIPER) to be arranged.",
)
RISK = (
    "DP states no medical conditions, no self-harm, no drug or alcohol dependency. Level 1 observations "
    "(hourly checks).",
    "DP appears under the influence of alcohol (smells strongly, unsteady). Level 2 observations (30-minute "
    "checks with rousing). Healthcare professional to assess.",
    "DP disclosed previous self-harm (cuts to forearms 2022) and is prescribed sertraline. Level 2 "
    "observations; anti-rip clothing offered. Mental health nurse referral made.",
    "DP is a heroin user and is on a methadone script ({dose}ml daily) from {pharmacy}. HCP consulted; "
    "Level 2 observations.",
    "DP states {he} has asthma and uses an inhaler, which has been retained and is available on request. "
    "Level 1 observations.",
    "PNC warning markers: violent (VI), weapons (WE). Two officers to attend the cell door. Level 1 "
    "observations.",
    "DP is diabetic (type 1); blood sugar checked by HCP at {hcp_time}. Level 1 observations, meals at "
    "regular times.",
    "DP reports suicidal thoughts following the breakdown of {his} relationship. Level 3 constant "
    "observation authorised by the custody sergeant.",
    "DP suspected of having concealed drugs internally; not accepted for an intimate search. Level 4 close "
    "proximity observation and hospital assessment.",
)
RISK_JUVENILE = (
    "DP aged {age}. Appropriate adult required; parent contacted by telephone. No medical conditions "
    "disclosed. Level 1 observations; YOT informed."
)
CUSTODY_NARRATIVE = (
    "{s} was booked in by PS {sgt} at {arrival_time}. Rights and entitlements given; DP requested a "
    "solicitor ({firm}) and for {his} mother to be informed.",
    "Property search conducted. {prop_sentence}",
    "Fingerprints, DNA and photograph taken; Livescan confirmed identity as PNC {pnc}.",
    'DP made the following reply after caution: "{reply}"',
    "DP's phone ({phone_model}, number {phone}) has been seized for download.",
    "Home address {home} searched under s.18 PACE by {o2}; {search_result}.",
    "DP's vehicle {vrm} was seized and removed to the pound for forensic examination.",
    'Note: DP is known to use the street name "{street_name}" and is linked to {assoc} (see intel).',
    "DP became aggressive in the cell corridor and was restrained by {o2}; use of force form submitted.",
    "Interpreter ({language}) booked via the Language Line; DP confirmed {he} understands English but "
    "prefers to speak {language}.",
    "IP {v_name} has been updated by the OIC.",
)
REPLIES = (
    "I ain't done nothing.",
    "No comment.",
    "That's not mine, I'm just holding it for a friend.",
    "She's lying, I wasn't even there.",
    "It was self-defence, he came at me first.",
    "I want my solicitor.",
    "Fair enough.",
    "You've got the wrong person, bruv.",
    "I only had it for protection.",
    "I found it.",
)
SEARCH_RESULTS = (
    "nothing of evidential value was found",
    "a quantity of cash and three mobile phones were seized",
    "digital scales and snap bags were recovered from the kitchen",
    "clothing matching the CCTV description was seized",
    "a machete was found under the bed",
)
LANGUAGES = (
    "Polish",
    "Romanian",
    "Somali",
    "Turkish",
    "Arabic",
    "Bengali",
    "Urdu",
    "Portuguese",
    "Vietnamese",
)
INTERVIEW_NOTES = (
    "Interviewed under caution by {o}. Solicitor {sol} present. DP gave a prepared statement denying the "
    'offence and then answered "no comment" to all further questions.',
    "Interviewed by {o}. DP made full admissions to the offence and stated {he} was sorry. {He} said {he} had "
    "been drinking all day.",
    "Interviewed by {o} with {sol} present. DP claimed self-defence, stating {v_name} had approached {him} "
    "with a {weapon}. Account to be checked against CCTV.",
    "No comment interview. DP was shown CCTV stills from {street} and the ANPR data for {vrm} and made no "
    "reply.",
    "Interviewed by {o}. DP denied any knowledge of the phone number {phone} and said the {veh} was "
    "borrowed from a friend {he} would not name.",
    "Interviewed by {o}. DP accepted being present at {street} but denied involvement, blaming an "
    'associate known as "{street_name}".',
    "Interview suspended after 20 minutes at the solicitor's request for further disclosure; resumed at "
    "{resume_time} and concluded with no comment replies.",
    "Interviewed by {o} in the presence of an appropriate adult. DP admitted possession of the {drug} but "
    "said it was for personal use only.",
)
REVIEW_NOTES = {
    "inspector_6h": (
        "Review by {insp} by video link. DP and solicitor made representations. Detention necessary to "
        "complete the interview; continued detention authorised.",
        "{insp}: grounds still exist; awaiting CCTV from the council. Continued detention authorised.",
        "{insp} reviewed detention; DP asleep and not woken (Code C 15.3A). Detention authorised.",
    ),
    "inspector_15h": (
        "15-hour review by {insp}. Investigation is being conducted diligently and expeditiously; "
        "continued detention authorised pending CPS advice.",
        "{insp}: second review, s.18 search completed and exhibits being examined. Detention authorised.",
    ),
    "superintendent_24h": (
        "Superintendent's review under s.42 PACE by {supt}. Extension of detention to 36 hours authorised "
        "for an indictable offence; investigation diligent and expeditious.",
        "{supt} authorised extension to 36 hours to allow CPS charging advice and the phone download to be "
        "completed.",
    ),
}
OUTCOME_DETAILS = {
    "charged": (
        "Charged with {offence} on authority of {auth}. Remanded in custody to appear at {court} on "
        "{next_date}.",
        "Charged with {offence} ({auth}). Bailed to {court} on {next_date} with conditions: not to contact "
        "{v_name} directly or indirectly; not to enter {area}; to reside at {home}.",
        "Charged and remanded to appear at {court} on {next_date}. Bail refused: substantial grounds to "
        "believe the DP would fail to surrender and commit further offences.",
    ),
    "bailed": (
        "Pre-charge bail granted until {next_date} with conditions: not to contact {v_name}; to live and "
        "sleep at {home}.",
        "Bailed to return to {station} on {next_date} pending forensic results. Condition: not to drive the "
        "{veh} {vrm}.",
    ),
    "released_under_investigation": (
        "Released under investigation (RUI) pending the download of the DP's phone ({phone}).",
        "RUI pending CCTV and forensic submissions. DP informed that {he} may be re-interviewed.",
        "Released under investigation; file to be reviewed by {oic} in 28 days.",
    ),
    "no_further_action": (
        "NFA - insufficient evidence to provide a realistic prospect of conviction. Authorised by {sgt_full}.",
        "NFA: the IP {v_name} declined to support a prosecution and there is no independent evidence.",
        "NFA - CCTV does not show the DP and {he} has provided an alibi which has been verified.",
    ),
    "cautioned": (
        "Simple caution administered by PS {sgt} after full admissions in interview.",
        "Conditional caution: to attend a drug awareness course and to write a letter of apology to {v_name}.",
        "Community resolution considered; simple caution given as the DP has previous for similar.",
    ),
    "in_custody": (
        "Remains in custody awaiting CPS charging decision.",
        "Detention continues; awaiting the return of the interpreter for the second interview.",
    ),
}

# ------------------------------------------------------------------ crime log

LOG_ENTRIES = (
    "Crime reported by {v_name} by telephone ({phone}). Initial account obtained; ABE not required.",
    "Scene attended by {o}. House-to-house completed on {street}; no witnesses identified.",
    "CCTV trawl: footage obtained from the {shop} on {street} covering {when}; shows a {sgender} matching the "
    "suspect description.",
    "ANPR enquiries on {vrm}: vehicle captured at {area} at {when} and again on the A406 twenty minutes "
    "later.",
    "PNC check on {vrm} shows registered keeper {keeper} at {keeper_pc}. No insurance on MID.",
    "Suspect identified as {s_name} (PNC {pnc}) by {o} from the CCTV stills.",
    "Forensic: SOCO attended and recovered fingerprints from the point of entry; submitted for comparison.",
    "IDENT1 match returned for {s_name}, DOB {s_dob}. Arrest enquiry created.",
    "Victim {v_name} updated by telephone; VCOP needs assessment completed, referred to Victim Support.",
    "Attempts to trace suspect at {s_home} negative. Circulated as wanted on PNC.",
    "Suspect arrested and interviewed - see custody record {custody_no}. Outcome: {custody_outcome}.",
    "Phone {phone} attributed to {s_name} via call data records; cell site places the handset in {area} "
    "at the relevant time.",
    "Witness statement (MG11) obtained from {w_name}, who describes the suspect as a {sdesc}.",
    "VIPER identification procedure: {v_name} positively identified the suspect at position {pos}.",
    "Stolen property ({item}) recovered from a pawnbroker on {street}; sold using {s_name}'s ID.",
    "File reviewed by {oic}: all proportionate lines of enquiry completed, no suspect identified. Crime "
    "filed pending further information.",
    "CPS advice sought via the charging portal (URN {urn}).",
    'Social media enquiries: the suspect\'s Snapchat account "{handle}" linked to phone {phone}.',
    "Outstanding: cell site analysis, forensic results on the {weapon}.",
    "DS review: offence correctly classified as {offence}; investigation plan agreed with {oic}.",
    "Intelligence report {intel_ref} submitted regarding the associates of {s_name}.",
    "Victim does not support police action; withdrawal statement taken. Evidence-led prosecution considered.",
    "Suspect's {veh} ({vrm}) seen parked outside {s_home} on a drive-by at {when}.",
)
SUSPECT_DESC = (
    "black male, 18-25, slim build, wearing a black North Face puffer jacket",
    "white male, 30s, stocky, shaved head, grey tracksuit",
    "Asian male, early 20s, beard, dark hooded top and balaclava",
    "mixed race male, about 5'10\", wearing a white Nike cap",
    "white female, 20s, long blonde hair, pink jacket",
    "male, face covered, riding a black moped",
)

# ------------------------------------------------------------------ case file

CASE_SUMMARY = (
    "The prosecution case is that on {offence_date} {defs} {conduct}. The evidence includes {evidence}. "
    "{interview}",
    "Summary of facts: {conduct_sentence} {defs} was arrested by {o} and interviewed; {interview_lc} The "
    "case was charged on the authority of {auth}.",
    "{defs} is charged with {offence_lc}. Key evidence: {evidence}. {interview} Bad character application "
    "to be made in respect of the defendant's previous convictions for similar offences.",
    "On {offence_date} at {street}, {area}, {conduct_sentence_lc} The defence case is {defence}.",
)
EVIDENCE = (
    "CCTV from the scene and the victim's ABE interview",
    "the defendant's DNA on the recovered {weapon}",
    "body-worn video of the arrest and the drugs expert statement",
    "ANPR data for {vrm} and cell site analysis of {phone}",
    "the victim's statement, photographs of the injuries and the 999 call",
    "fingerprints recovered from the point of entry",
    "the test purchase officer's evidence and the downloaded messages on {phone}",
)
DEFENCE = (
    "self-defence",
    "mistaken identity",
    "that the drugs were for personal use",
    "that the defendant was not present (alibi notice served)",
    "duress",
    "lack of intent",
)
INTERVIEW_SUMMARY = (
    "In interview the defendant answered no comment.",
    "In interview the defendant made full admissions.",
    "In interview the defendant gave a prepared statement denying the offence.",
    "In interview the defendant claimed self-defence.",
)

# ------------------------------------------------------------------ intelligence

INTEL_OPEN = (
    "Intelligence indicates that {s} is {activity}.",
    "It is reported that {s} {activity_present}.",
    "Source reports that {s} is currently {activity}.",
    "{s} is believed to be {activity}.",
    "Information has been received that {s} {activity_present}.",
    "A reliable source states that {s} is {activity}.",
)
INTEL_ACTIVITY = {
    "drugs": (
        'running a county line (the "{line}") supplying {drug} from {area} into Southend and Luton',
        "dealing {drug} and {drug2} from {loc}",
        "storing {drug} for the {group} at {his} girlfriend's address",
    ),
    "weapons": (
        "carrying a {weapon} in a man bag when out in {area}",
        "in possession of a {firearm} which is being stored at an address in {area}",
        "involved in an ongoing dispute with the {group} and has been seen with a {weapon}",
    ),
    "vehicle": (
        "using a {veh}, {vrm}, to commit burglaries across {area}",
        "driving a {veh} ({vrm}) on cloned plates to commit thefts from motor vehicles",
        "involved in the theft of high value cars using keyless relay devices",
    ),
    "violence": (
        "threatening to seriously assault a rival over a drug debt",
        "the main aggressor in recent disorder outside the bars on {street}",
        "exploiting vulnerable young people, one of whom was recently stabbed in {area}",
    ),
    "domestic": (
        "back in contact with {his} ex-partner despite a restraining order and has been seen at {loc}",
    ),
}
INTEL_ACTIVITY_PRESENT = {
    "drugs": (
        "deals {drug} from a {veh} ({vrm}) parked near {street} most evenings",
        'uses the phone {phone} (the "{line}") to take orders for {drug}',
        "has been cuckooing a vulnerable adult at {loc} and using the flat to deal {drug}",
    ),
    "weapons": (
        "keeps a {weapon} hidden in the bin store at {loc}",
        "has recently bought a {firearm} for £{cash}",
    ),
    "vehicle": (
        "uses the {veh} {vrm}, which is registered to a relative",
        "steals motorbikes to order and stores them in a lock-up off {street}",
    ),
    "violence": ("carried out the recent stabbing on {street} and has been hiding at {loc}",),
    "domestic": ("has been following {his} ex-partner in a {veh} ({vrm})",),
}
INTEL_EXTRA = (
    "{s2} is associating with {s} and acts as a runner.",
    "{s} uses the phone number {phone}.",
    "{s} is currently using mobile {phone} and changes numbers regularly.",
    "{s} has been seen driving a {veh}, VRM {vrm}.",
    "The {veh} {vrm} is frequently parked outside {loc}.",
    "{s} is staying at {loc} with {his} partner.",
    "{s} is believed to be staying at an address in the {pc} area.",
    '{s} is known as "{street_name}" and is a member of the {group}.',
    "{s} (PNC {pnc}) has recently been released from HMP Pentonville.",
    "{s} carries cash in excess of £{cash} and boasts about it on social media.",
    "{s2} (DOB {dob2}) has been seen collecting cash from users on {street}.",
    "Drugs are stored in a {veh} ({vrm}) parked on {street} and moved every few days.",
    "{s} is in contact with a male using the phone {phone2}.",
    "Email {email} has been used to book hire vehicles used by the group.",
    "{s} has been seen with a {weapon} in the waistband of {his} trousers.",
)
INTEL_CLOSE = (
    "This is the first intelligence of this nature regarding {s}.",
    "This corroborates previous intelligence on {s}.",
    "Timeframe: the last two weeks.",
    "Timeframe: ongoing.",
    "The source has access to this information.",
    "Recommend tasking to the local proactive team.",
    "Consider ANPR markers for {vrm}.",
    "Consider a s.23 MDA warrant at {loc}.",
)
GROUPS = (
    "N17 Boys",
    "Mali Boys",
    "Hackney Firm",
    "E5 crew",
    "OFB",
    "Brixton Young Guns",
    "Peckham Boys",
    "Stonebridge crew",
    "Bow E3 group",
    "Church Street Boys",
    "Holloway Tings",
    "Croydon CR0 group",
)
INTEL_TITLES = {
    "drugs": "Drug supply",
    "weapons": "Weapons",
    "vehicle": "Vehicle crime",
    "violence": "Violence",
    "domestic": "Domestic abuse",
}

# ------------------------------------------------------------------ helpers


class _Ctx(dict[str, Any]):
    """Missing placeholders read as a neutral phrase instead of failing the whole run."""

    def __missing__(self, key: str) -> str:
        return "unknown"


_FORMATTER = string.Formatter()


def fill(template: str, ctx: Mapping[str, object]) -> str:
    out = template.format_map(ctx if isinstance(ctx, _Ctx) else _Ctx(ctx))
    return out[0].upper() + out[1:] if out else out


def pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]


def ctx(**kwargs: object) -> _Ctx:
    return _Ctx(kwargs)
